"""The ``imr-rules`` command line. Thin: parses options, calls the pipeline, prints, sets the exit code."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict, ValidationError

from imr_rules import __version__
from imr_rules.cases.model import Case
from imr_rules.cases.reader import case_files_in, read_case
from imr_rules.cases.vocabulary import Vocabulary, vocabulary_of
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.extras import MissingExtraError
from imr_rules.common.model_errors import translate
from imr_rules.common.outputs import OutputError, check_target, write_atomic
from imr_rules.common.text import fit_width, json_text, printable, terminal_text
from imr_rules.common.yaml_source import load_yaml
from imr_rules.engine.durable_adapter import EngineError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import default_rules_dir, evaluator, load_knowledge_base, load_rule_base
from imr_rules.engine.results import CaseResult

if TYPE_CHECKING:
    from imr_rules.regression.runner import FileResult

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BAD_CASE = 3
EXIT_BAD_RULES = 4
EXIT_REPLAY_DIFFERS = 6
EXIT_OUTPUT = 7

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings=HELP_OPTIONS,
                  help="Evaluate IMR requests against MTUS criteria encoded as YAML rules (decision support).")


class AcceptedFlip(BaseModel):
    """An intended change since the baseline."""

    model_config = ConfigDict(extra="forbid")
    item: str
    reason: str


class AcceptedFlips(BaseModel):
    """The file given to ``regress --accept``: ``accepted: [{item: CASE/ITEM, reason: ...}]``."""

    model_config = ConfigDict(extra="forbid")
    accepted: list[AcceptedFlip]


class OutputFormat(StrEnum):
    """Output formats of ``evaluate``."""

    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"
    pdf = "pdf"


RulesOption = Annotated[Path | None, typer.Option("--rules", metavar="DIR",
                                                  help="Rules folder (default: the shipped rules).")]


def _version_option(value: bool) -> None:
    if value:
        typer.echo(f"imr-rules {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    version_flag: Annotated[bool, typer.Option("--version", "-V", callback=_version_option, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Evaluate IMR requests against MTUS criteria encoded as YAML rules (decision support)."""


def _report(text: str) -> str:
    """A text report for standard output: control characters escaped; at a terminal, lines fitted to 100
    columns (piped or redirected output keeps one record per line for tools)."""
    safe = terminal_text(text)
    return fit_width(safe) if sys.stdout.isatty() else safe


def _print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        typer.echo(diagnostic.render(), err=True)


def _evaluator_or_exit(rules: Path | None) -> Evaluator:
    """The evaluator for a rules folder; a rule base with errors ends the command with exit code 4."""
    try:
        return evaluator(rules)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "rule base not usable") from None


def _fail(diagnostics: list[Diagnostic], code: int, what: str) -> typer.Exit:
    _print_diagnostics(diagnostics)
    errors = sum(1 for d in diagnostics if d.severity == "error")
    typer.echo(f"{what}: {errors} error(s)", err=True)
    return typer.Exit(code)


@app.command()
def evaluate(
    case_file: Annotated[Path, typer.Argument(help="Case YAML file, or - for JSON Lines cases on standard input.",
                                              show_default=False)],
    rules: RulesOption = None,
    output: Annotated[OutputFormat | None, typer.Option("--format", "-f", help="Output format [default: text; "
                                                        "JSON Lines for -].", show_default=False)] = None,
    trace: Annotated[bool, typer.Option(help="Show the rules fired (text format).")] = True,
    out_file: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                  help="Write here instead of stdout.")] = None,
) -> None:
    """Decide every requested item of a case: Upheld / Overturned, with a cited rationale."""
    if str(case_file) == "-":
        _check_batch_options(output, out_file)
    if out_file is not None:
        check_target(out_file)
    rule_base_evaluator = _evaluator_or_exit(rules)
    if str(case_file) == "-":
        from imr_rules.review.batch import evaluate_stream

        if sys.stdin is None:
            typer.echo("<stdin>: error: standard input is closed: no cases to evaluate", err=True)
            raise typer.Exit(EXIT_BAD_CASE)
        failed = evaluate_stream(sys.stdin.buffer, sys.stdout, rule_base_evaluator)
        raise typer.Exit(EXIT_BAD_CASE if failed else EXIT_OK)
    warnings: list[Diagnostic] = []
    try:
        case = read_case(case_file, vocabulary=rule_base_evaluator.compiled.rule_base.vocabulary, warnings=warnings)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_CASE, "case not evaluated") from None
    for warning in warnings:  # a code that disagrees with the service written, a category ICD-10 code
        typer.echo(warning.render(), err=True)
    try:
        result = rule_base_evaluator.evaluate(case)
    except EngineError as exc:
        typer.echo(printable(f"{case_file}: engine error: {exc}"), err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    _write(_render(case, result, output or OutputFormat.text, trace), out_file)


def _check_batch_options(output: OutputFormat | None, out_file: Path | None) -> None:
    """``evaluate -`` answers in JSON Lines on standard output: another format or ``-o`` is refused (exit 2)."""
    if output not in (None, OutputFormat.json):
        typer.echo(f"error: evaluate - (batch) answers in JSON Lines, one decision record per case; --format "
                   f"{output.value} is for one case file: evaluate CASE.yaml --format {output.value}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if out_file is not None:
        typer.echo("error: evaluate - (batch) writes to standard output as it goes: redirect it (> out.jsonl) "
                   "instead of --output", err=True)
        raise typer.Exit(EXIT_USAGE)


def _render(case: Case, result: CaseResult, output: OutputFormat, trace: bool) -> str | bytes:
    if output == OutputFormat.text:  # the common case, kept free of the document renderers' imports
        from imr_rules.review.report import render_text

        return render_text(result, trace)
    from imr_rules.api import Evaluation, render
    from imr_rules.api.knowledge_base import FORMATS

    return render(Evaluation(case, result), next(f for f in FORMATS if f == output.value), trace)


def _write(content: str | bytes, out_file: Path | None) -> None:
    if out_file is not None:
        write_atomic(out_file, content)
        return
    if isinstance(content, bytes):
        if sys.stdout.isatty():
            typer.echo("error: PDF output goes to a file: add --output FILE.pdf", err=True)
            raise typer.Exit(EXIT_USAGE)
        sys.stdout.buffer.write(content)
        return
    typer.echo(content, nl=False)


@app.command()
def replay(
    record_file: Annotated[Path, typer.Argument(help="A decision record (evaluate --format json).",
                                                show_default=False)],
    rules: RulesOption = None,
) -> None:
    """Re-evaluate a decision record's case and compare the whole record: ids, versions, items, every field."""
    from imr_rules.review.replay import differences, read_record

    try:
        record, case = read_record(record_file)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_CASE, "not a usable decision record") from None
    again, found = differences(record, case, _evaluator_or_exit(rules))
    if found:
        typer.echo("\n".join(["not reproduced:", *found]))
        raise typer.Exit(EXIT_REPLAY_DIFFERS)
    typer.echo(f"reproduced: record {again['record_id']}, {len(again['items'])} item(s) identical")


class ExplainFormat(StrEnum):
    """Output formats of ``explain``."""

    text = "text"
    json = "json"


@app.command()
def explain(
    case_file: Annotated[Path, typer.Argument(help="Case YAML file.", show_default=False)],
    item: Annotated[str | None, typer.Option("--item", help="Only this requested item id.")] = None,
    rules: RulesOption = None,
    output: Annotated[ExplainFormat, typer.Option("--format", "-f", help="Output format (json: "
                                                  "docs/schemas/explanation.schema.json).")] = ExplainFormat.text,
) -> None:
    """Why each item came out as it did, what documentation is missing, and what would change the decision."""
    from imr_rules.review.explanation import explain_case

    engine = _evaluator_or_exit(rules)
    try:
        case = read_case(case_file, vocabulary=engine.compiled.rule_base.vocabulary)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_CASE, "case not explained") from None
    if item is not None and item not in {i.id for i in case.requested_items}:
        typer.echo(printable(f"{case_file}: error: --item {item}: no such requested item "
                             f"(items: {', '.join(i.id for i in case.requested_items[:50])})"), err=True)
        raise typer.Exit(EXIT_USAGE)
    explanation = explain_case(engine, case, rules or default_rules_dir(), item)
    if output == ExplainFormat.json:
        typer.echo(json_text(json.dumps(explanation.to_json(), indent=2, ensure_ascii=False)))
        return
    typer.echo(explanation.text(), nl=False)


@app.command()
def validate(
    rules_dir: Annotated[Path | None, typer.Argument(help="Rules folder (default: the shipped rules).")] = None,
    cases: Annotated[list[Path] | None, typer.Argument(help="Case files (or folders of them) to validate too.",
                                                          show_default=False)] = None,
    examples: Annotated[bool, typer.Option(help="Also evaluate each rule's example cases.")] = True,
) -> None:
    """Check a rule base (and cases): formats, references, conditions, templates, durable's limits, examples.

    Every ruleset is compiled and registered in durable_rules, so a rule base that validates is one the
    engine accepts whole.
    """
    from imr_rules.authoring.examples import check_example, load_examples

    root = rules_dir or default_rules_dir()
    try:
        knowledge_base = load_knowledge_base(root, register_all=True)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, f"rules {root}") from None
    rule_base = knowledge_base.rule_base
    problems = list(knowledge_base.diagnostics)
    if examples:
        found, example_problems = load_examples(rule_base)
        problems += example_problems
        engine = evaluator(root)
        for example in found:
            problems += check_example(example, engine)
    case_problems: list[Diagnostic] = []
    failed_cases = 0
    case_hints: list[Diagnostic] = []
    cases = [p for path in cases or [] for p in case_files_in(path)]
    for case_file in cases:
        in_file = _case_file_problems(case_file)
        failed_cases += bool(in_file)
        case_problems += in_file
        case_hints += [] if in_file else _case_file_hints(case_file)
    _print_diagnostics(problems + case_problems + case_hints)
    rule_errors = [d for d in problems if d.severity == "error"]
    if rule_errors:
        typer.echo(printable(f"rules {root}: {len(rule_errors)} error(s)"), err=True)
        raise typer.Exit(EXIT_BAD_RULES)
    if case_problems:
        typer.echo(f"cases: {len(case_problems)} error(s) in {failed_cases} of {len(cases or [])} file(s)", err=True)
        raise typer.Exit(EXIT_BAD_CASE)
    typer.echo(f"ok: {len(rule_base.topics)} topic rules, {len(rule_base.derivations)} shared derivations, "
               f"{len(knowledge_base.compiled.rulesets)} rulesets registered, {len(cases or [])} case(s) valid; "
               f"rule base {rule_base.version}")


def _case_file_hints(case_file: Path) -> list[Diagnostic]:
    """Warnings for a valid case file: free-text facts that name a finding the rules could read."""
    from imr_rules.cases.hints import file_hints

    return file_hints(case_file)


def _case_file_problems(case_file: Path) -> list[Diagnostic]:
    """Every problem of one case file (none: valid); a failure of any kind is that file's problem."""
    from imr_rules.regression.runner import read_problems

    return read_problems(case_file)


@app.command("coverage")
def coverage_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Case files or folders (e.g. cases/historical).",
                                                       show_default=False)] = None,
    rules: RulesOption = None,
    catalogue: Annotated[bool, typer.Option("--catalogue", help="Which sections of each guideline have a rule "
                                            "(rules/guideline_catalogue.yaml).")] = False,
    show_covered: Annotated[bool, typer.Option("--show-covered", help="With --catalogue: list covered sections "
                                               "and their rules too.")] = False,
) -> None:
    """Share of items the rule base addresses, per service category, and agreement with recorded decisions."""
    from imr_rules.regression.report import render_coverage
    from imr_rules.regression.runner import case_files, coverage, evaluate_files

    if catalogue:
        _catalogue_coverage(rules, show_covered)
    if not paths:
        if not catalogue:
            typer.echo("error: give case files or folders, or --catalogue", err=True)
            raise typer.Exit(EXIT_USAGE)
        return
    engine = _evaluator_or_exit(rules)
    files = case_files(paths)
    results = list(evaluate_files(files, engine))
    rows = [row for result in results for row in result.outcomes]
    table = coverage(rows)
    typer.echo(_report(render_coverage(table, dt.date.today(), engine.rule_base_version)), nl=False)
    _report_failed_inputs(results)


def _catalogue_coverage(rules: Path | None, show_covered: bool) -> None:
    """Print the catalogue coverage of the rule base (exit 4 if the catalogue or rule base has errors)."""
    from imr_rules.authoring.guideline_catalogue import (
        catalogue_coverage,
        check_catalogue,
        load_catalogue,
        render_catalogue_coverage,
    )

    try:
        rule_base, _ = load_rule_base(rules)
        catalogue = load_catalogue(rule_base.root)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "catalogue not usable") from None
    problems = check_catalogue(catalogue, rule_base)
    if problems:
        raise _fail(problems, EXIT_BAD_RULES, "catalogue not usable")
    rows = catalogue_coverage(catalogue, rule_base)
    typer.echo(terminal_text(render_catalogue_coverage(rows, dt.date.today(), rule_base.version, show_covered)),
               nl=False)


EXIT_UNEXPECTED_FLIPS = 5


def _report_failed_inputs(results: list[FileResult]) -> None:
    """Print the problems of the inputs that could not be evaluated, count them, and exit 3 if there are any."""
    failed = [result for result in results if result.problems]
    if not failed:
        return
    _print_diagnostics([d for result in failed for d in result.problems])
    typer.echo(f"{len(failed)} of {len(results)} input file(s) not evaluated (listed above); "
               f"the figures cover the other {len(results) - len(failed)}", err=True)
    raise typer.Exit(EXIT_BAD_CASE)


def _progress_printer(enabled: bool | None) -> Callable[[int, int], None] | None:
    show = enabled if enabled is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    if not show:
        return None

    def show_progress(done: int, total: int) -> None:
        filled = int(30 * done / total) if total else 30
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} cases")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show_progress


def _read_baseline(path: Path) -> dict[str, Any]:
    """A baseline written by ``regress --write-baseline``; ``InputError`` if it cannot be one."""
    from imr_rules.common.diagnostics import display_path
    from imr_rules.common.inputs import read_limited

    raw = read_limited(path, 256_000_000, "baseline")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError([Diagnostic(display_path(path), getattr(exc, "lineno", None), "(file)",
                                     f"cannot read the baseline: not valid JSON ({type(exc).__name__})",
                                     "give a file written by regress --write-baseline")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("items", {}), dict):
        raise InputError([Diagnostic(display_path(path), 1, "(file)", "cannot read the baseline: not a baseline",
                                     "give a file written by regress --write-baseline")])
    return data


def _read_accepted(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    document = load_yaml(path)
    try:
        accepted = AcceptedFlips.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(translate(exc, document, AcceptedFlips)) from None
    return {entry.item: entry.reason for entry in accepted.accepted}


class Executor(StrEnum):
    """Where ``regress`` and ``extract`` run: local processes or a Ray cluster."""

    local = "local"
    ray = "ray"


ExecutorOption = Annotated[Executor, typer.Option(help="local: processes on this machine (--jobs); ray: Ray actors "
                                                       "(pip install 'imr-rules[ray]'), local Ray unless --address.")]
AddressOption = Annotated[str | None, typer.Option(help="Ray cluster address (e.g. auto, or ray://head:10001); "
                                                        "files must be at the same path on every node.")]


class RegressFormat(StrEnum):
    """Output formats of ``regress`` on standard output."""

    text = "text"
    json = "json"
    sarif = "sarif"


@app.command()
def regress(
    paths: Annotated[list[Path], typer.Argument(help="Case files, IMR letters (PDF or text, extracted on the fly) "
                                                     "or folders of either, with recorded outcomes.",
                                                show_default=False)],
    rules: RulesOption = None,
    baseline: Annotated[Path | None, typer.Option(help="Compare with this baseline (JSON).")] = None,
    write_baseline: Annotated[Path | None, typer.Option(help="Write this run as a baseline (JSON).")] = None,
    accept: Annotated[Path | None, typer.Option(help="YAML list of intended flips: item, reason.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Processes to spread cases over.")] = 1,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress",
                                                     help="Progress bar (default: on a terminal, not in CI).")] = None,
    show_check: Annotated[bool, typer.Option(
        "--show-check-disagreements",
        help="Also list disagreements and flips of CHECK items. For a final review only: do NOT write or adjust "
             "rules looking at them, or the check figures stop measuring anything.")] = False,
    output: Annotated[RegressFormat, typer.Option("--format", "-f", help="Report format: text, JSON "
                                                  "(docs/schemas/regression.schema.json) or SARIF 2.1.0 "
                                                  "(disagreements and flips).")] = RegressFormat.text,
    executor: ExecutorOption = Executor.local,
    address: AddressOption = None,
) -> None:
    """Evaluate cases with recorded determinations; report agreement, citations, disagreements and flips.

    Figures are given for all items, tune items and check items; only tune disagreements are listed.
    """
    from imr_rules.regression import report as regress_report
    from imr_rules.regression.runner import baseline_of, case_files, compare_baseline, compute_metrics, run_files

    for target in (write_baseline, junit, html_file):
        if target is not None:
            check_target(target)
    root = rules or default_rules_dir()
    try:
        rule_base, _ = load_rule_base(root)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "not run") from None
    try:
        accepted = _read_accepted(accept)
        previous = _read_baseline(baseline) if baseline else None
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_CASE, "not run") from None
    files = case_files(paths)
    if executor == Executor.ray:
        from imr_rules.scale.ray_executor import regress_on_ray

        results = regress_on_ray(files, root, address, jobs if jobs > 1 else None, _progress_printer(progress))
    else:
        results = run_files(files, root, jobs, _progress_printer(progress))
    rows = [row for result in results for row in result.outcomes]
    metrics = compute_metrics(rows)
    flips = None
    if previous is not None:
        flips, _ = compare_baseline(rows, previous, accepted)
    today = dt.date.today()
    cases = sum(1 for result in results if result.outcomes)
    if output == RegressFormat.text:
        typer.echo(_report(regress_report.render_text(metrics, rows, flips, today, rule_base.version, cases,
                                                           show_check)),
                   nl=False)
    else:
        typer.echo(_regress_document(results, flips, rule_base.version, today, show_check, output))
    if write_baseline:
        write_atomic(write_baseline, json.dumps(baseline_of(rows, rule_base.version), indent=1, sort_keys=True) + "\n")
    if junit:
        write_atomic(junit, regress_report.render_junit(rows, show_check))
    if html_file:
        write_atomic(html_file, regress_report.render_html(metrics, rows, flips, today, rule_base.version, show_check))
    letters = [result for result in results if result.extracted]
    if letters:
        warned = sum(1 for result in letters if result.warnings)
        typer.echo(f"{len(letters)} letter(s) extracted on the fly; {warned} with extraction warnings "
                   f"(`imr-rules extract LETTER` lists them)", err=True)
    unexpected = [flip for flip in flips or [] if flip.accepted_reason is None]
    if unexpected:
        typer.echo(f"{len(unexpected)} unexpected change(s) since the baseline", err=True)
    _report_failed_inputs(results)
    if unexpected:
        raise typer.Exit(EXIT_UNEXPECTED_FLIPS)


def _regress_document(results: list[FileResult], flips: list[Any] | None, version: str, today: dt.date,
                      show_check: bool, output: RegressFormat) -> str:
    from imr_rules.regression.results_json import regression_json, regression_record, regression_sarif

    record = regression_record(results, flips, version, today, show_check)
    document = regression_json(record) if output == RegressFormat.json else regression_sarif(record)
    return json_text(json.dumps(document, indent=1, ensure_ascii=False))


class ExtractFormat(StrEnum):
    """Output formats of ``extract``."""

    yaml = "yaml"
    json = "json"
    jsonl = "jsonl"


@app.command()
def extract(
    letters: Annotated[list[Path], typer.Argument(help="IMR determination letters (PDF or text), or folders "
                                                       "searched for them.", show_default=False)],
    out_dir: Annotated[Path | None, typer.Option("--output-dir", "-o", help="Write one case file per letter here.")]
    = None,
    output: Annotated[ExtractFormat, typer.Option("--format", "-f", help="Case file format.")] = ExtractFormat.yaml,
    force: Annotated[bool, typer.Option("--force", help="Replace case files that already exist in the folder.")]
    = False,
    executor: ExecutorOption = Executor.local,
    address: AddressOption = None,
    jobs: Annotated[int | None, typer.Option(min=1, max=1024, help="Ray actors (default: one per CPU).")] = None,
) -> None:
    """Turn IMR letters into case files with their recorded decisions (facts from the case summary only).

    A folder is searched for letters (a letter there as both text and PDF is read once, from the text).
    On standard output, YAML cases are separate documents and JSON cases one per line (JSON Lines, also
    -f jsonl), which `imr-rules evaluate -` reads.
    """
    from imr_rules.intake.files import letter_files
    from imr_rules.intake.output import CaseFolder, SameCaseTwiceError, case_text

    found = {path: letter_files([path]) for path in letters}  # each folder walked once
    empty = [path for path, inside in found.items() if path.is_dir() and not inside]
    letters = [letter for inside in found.values() for letter in inside]
    if empty:
        typer.echo(printable("no letters (*.pdf, *.txt) in " + ", ".join(map(str, empty))), err=True)
        if not letters:
            raise typer.Exit(EXIT_USAGE)
    file_format = "yaml" if output == ExtractFormat.yaml else "json"
    folder = CaseFolder(out_dir, file_format, force) if out_dir is not None else None
    failed = same_case = unwritten = 0
    for result in _extractions(letters, executor, address, jobs):
        _print_diagnostics(result.problems)
        if result.case is None:
            failed += 1
            typer.echo(printable(f"{result.path}: not extracted"), err=True)
            continue
        if folder is None:
            typer.echo(case_text(result.case, file_format, stream=True), nl=False)
            continue
        try:
            target = folder.write(result.path, result.case)
        except SameCaseTwiceError as exc:
            same_case += 1
            typer.echo(printable(f"{exc}"), err=True)
            continue
        except OutputError as exc:
            unwritten += 1
            typer.echo(printable(f"{result.path}: not written: {exc}"), err=True)
            continue
        typer.echo(printable(f"{result.path}: {len(result.case.requested_items)} item(s) -> {target}"), err=True)
    counts = [(failed, "not extracted"), (same_case, "not written: same case as an earlier letter"),
              (unwritten, "not written: the file exists or cannot be written")]
    summary = [f"{count} of {len(letters)} letter(s) {what}" for count, what in counts if count]
    if summary:
        typer.echo("; ".join(summary), err=True)
        raise typer.Exit(EXIT_BAD_CASE if failed or same_case else EXIT_OUTPUT)


def _extractions(letters: list[Path], executor: Executor, address: str | None, jobs: int | None) -> Iterator[Any]:
    """The extraction of each letter, in order: here, one by one, or on Ray actors."""
    if executor == Executor.ray:
        from imr_rules.scale.ray_executor import extract_on_ray

        yield from extract_on_ray(letters, address, jobs)
        return
    from imr_rules.scale.ray_executor import extract_one

    for letter in letters:
        yield extract_one(letter)


@app.command()
def migrate(
    paths: Annotated[list[Path], typer.Argument(help="Version 1 case files, or folders searched for them.",
                                                show_default=False)],
    in_place: Annotated[bool, typer.Option("--in-place", help="Rewrite each file (atomically) instead of "
                                                              "printing the version 2 case.")] = False,
    rules: RulesOption = None,
) -> None:
    """Convert version 1 case files to version 2; files already at version 2 are left alone."""
    from imr_rules.cases.migrate import case_paths, migrate_file, write_atomically

    vocabulary = _vocabulary_or_exit(rules)
    counts: dict[str, int] = {}
    unknown_region: list[str] = []
    failed = False
    for path in case_paths(paths):
        outcome = migrate_file(path, vocabulary)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        _print_diagnostics(outcome.problems)
        failed = failed or outcome.status == "error"
        for warning in outcome.warnings:
            typer.echo(f"{path}: warning: {warning}", err=True)
        if any("region set to 'unknown'" in w for w in outcome.warnings):
            unknown_region.append(str(path))
        if outcome.text is None:
            continue
        if in_place:
            write_atomically(path, outcome.text)
        else:
            typer.echo(f"--- # {path}\n{outcome.text}", nl=False)
    if unknown_region:
        typer.echo(f"{len(unknown_region)} file(s) with findings of region 'unknown' (set them from the record):\n  "
                   + "\n  ".join(unknown_region), err=True)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no files"
    typer.echo(f"migrate: {summary}", err=True)
    if failed:
        raise typer.Exit(EXIT_BAD_CASE)


rules_app = typer.Typer(no_args_is_help=True, help="Inspect the rule base.", context_settings=HELP_OPTIONS)
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(
    rules: RulesOption = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (docs/rules.md).")] = False,
    criteria: Annotated[bool, typer.Option("--criteria", help="List every criterion with its sources and basis "
                                                              "(reviewer practice marked with its reason).")] = False,
) -> None:
    """The rule catalogue: topic, edition, citation, period, criteria (reviewer practice) and examples per rule."""
    from imr_rules.authoring.catalogue import render_catalogue, render_criteria

    try:
        rule_base, _ = load_rule_base(rules)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "rule base not usable") from None
    catalogue = render_criteria(rule_base, markdown) if criteria else render_catalogue(rule_base, markdown)
    typer.echo(_report(catalogue), nl=False)


class StatsSplit(StrEnum):
    """Which historical items ``rules stats`` counts."""

    all = "all"
    tune = "tune"
    check = "check"


@rules_app.command("stats")
def rules_stats(
    paths: Annotated[list[Path], typer.Argument(help="Case files or folders with recorded determinations "
                                                     "(e.g. cases/historical cases/seeds).", show_default=False)],
    rules: RulesOption = None,
    split: Annotated[StatsSplit, typer.Option(help="Count all items, or only the tune or check items.")]
    = StatsSplit.all,
    write: Annotated[Path | None, typer.Option(help="Also write the record as JSON (rules/track_record.json is the "
                                                    "one explain reads).")] = None,
) -> None:
    """Track record: how often each rule and criterion decided a historical item and reviewers agreed."""
    from imr_rules.regression.runner import case_files, run_files
    from imr_rules.regression.stats import render_stats, track_record

    root = rules or default_rules_dir()
    try:
        rule_base, _ = load_rule_base(root)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "rule base not usable") from None
    results = run_files(case_files(paths), root, 1)
    rows = [row for result in results for row in result.outcomes if split == "all" or row.split == split.value]
    corpus = [p.as_posix() for p in paths] + ([] if split == "all" else [f"{split.value} items only"])
    record = track_record(rows, rule_base.version, corpus, dt.date.today())
    typer.echo(_report(render_stats(record)), nl=False)
    if write is not None:
        write_atomic(write, json.dumps(record.to_json(), indent=1) + "\n")
    problems = [d for result in results for d in result.problems]
    if problems:
        _print_diagnostics(problems)
        raise typer.Exit(EXIT_BAD_CASE)


@rules_app.command("limits")
def rules_limits(rules: RulesOption = None) -> None:
    """How close the rule base comes to each of durable_rules' limits (largest count per limit, and where)."""
    from imr_rules.rulebase.limits import usage_report

    try:
        compiled = load_knowledge_base(rules).compiled
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "rule base not usable") from None
    typer.echo(f"{len(compiled.rulesets)} rulesets, {len(compiled.rule_base.topics)} topics, "
               f"{len(compiled.periods)} periods")
    for usage in usage_report(compiled):
        bound = f"{usage.largest} of {usage.maximum}" if usage.maximum else str(usage.largest)
        typer.echo(_report(f"  {usage.limit:<32} {bound:>14}  ({usage.error}) {usage.where}".rstrip()))


class SchemaKind(StrEnum):
    """The documents ``schema`` describes: the case format (input) and each JSON output."""

    case = "case"
    evaluation = "evaluation"
    explanation = "explanation"
    batch = "batch"
    regression = "regression"


@app.command()
def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="case (the input format, with the vocabulary's terms), or an "
                                                    "output: evaluation, explanation, batch, regression.")]
    = SchemaKind.case,
    rules: RulesOption = None,
) -> None:
    """Print a JSON Schema: the case format (for editors), or an output's (published in docs/schemas/)."""
    if kind != SchemaKind.case:
        from imr_rules.api.schemas import output_schema

        typer.echo(json.dumps(output_schema(kind.value), indent=2, ensure_ascii=False))
        return
    from imr_rules.cases.schema import case_schema

    typer.echo(json.dumps(case_schema(_vocabulary_or_exit(rules)), indent=2, ensure_ascii=False))


def _vocabulary_or_exit(rules: Path | None) -> Vocabulary:
    try:
        return vocabulary_of(rules)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "vocabulary not usable") from None


@app.command()
def vocab(
    kind: Annotated[str | None, typer.Argument(help="One vocabulary: services, body_regions, concepts, ...",
                                               show_default=False)] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help="Terms whose id, label or synonym "
                                                                      "contains this text.")] = None,
    rules: RulesOption = None,
) -> None:
    """List the vocabularies of the rule base (services, regions, clinical concepts...) or search them."""
    from imr_rules.cases.vocabulary import KINDS, render_vocabulary

    if kind is not None and kind not in KINDS:
        typer.echo(f"error: unknown vocabulary '{kind}'; one of: {', '.join(KINDS)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(_report(render_vocabulary(_vocabulary_or_exit(rules), kind, search)), nl=False)


@app.command()
def version() -> None:
    """Print the imr-rules version."""
    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes evaluating cases.")] = 2,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds one case may take (504 past it).")] = 30.0,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key; when it is set, "
                                                  "requests must send it in the X-API-Key header.")]
    = "IMR_RULES_API_KEY",
    rules: RulesOption = None,
) -> None:
    """Run the HTTP service: POST /evaluate, /explain, /evaluate/batch; GET /rules, /health, /docs (OpenAPI)."""
    from imr_rules.service.app import serve as run_service
    from imr_rules.service.app import settings_from_environment

    _evaluator_or_exit(rules)  # a bad rule base stops here, located, before any worker starts
    settings = settings_from_environment(rules, workers, timeout, api_key_env)
    typer.echo(f"imr-rules serve: http://{host}:{port} ({workers} worker(s); API key "
               f"{'required' if settings.api_key else 'not required'}); Ctrl-C stops", err=True)
    run_service(settings, host, port)


class _GuardedOutput(io.RawIOBase):
    """Standard output at the file-descriptor level: a failed write (broken pipe, closed descriptor, disk
    full) raises ``OutputError``, which the command line reports with exit 7 instead of exiting silently."""

    def __init__(self, descriptor: int, closed: bool) -> None:
        super().__init__()
        self.descriptor = descriptor
        self.was_closed = closed

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.descriptor

    def isatty(self) -> bool:
        return os.isatty(self.descriptor)

    def write(self, data: Any) -> int:
        if self.was_closed:
            raise OutputError("cannot write to standard output: it is closed")
        try:
            return os.write(self.descriptor, data)
        except BrokenPipeError:
            raise OutputError("standard output was closed by the reader (broken pipe); the output is incomplete") \
                from None
        except OSError as exc:
            if exc.errno == errno.EBADF:
                raise OutputError("cannot write to standard output: it is closed") from None
            raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None


def _guard_stdout() -> None:
    """Route standard output through ``_GuardedOutput`` (text and binary writes alike)."""
    current = sys.stdout
    encoding = getattr(current, "encoding", None) or "utf-8"
    errors = getattr(current, "errors", None) or "strict"
    line_buffering = bool(getattr(current, "line_buffering", False))
    try:
        os.fstat(1)
        closed = False
    except OSError:  # started with standard output closed: hold descriptor 1 so no file we open takes it
        closed = True
        with contextlib.suppress(OSError):
            os.open(os.devnull, os.O_WRONLY)  # the lowest free descriptor: 1 (when 0 is open)
    raw = _GuardedOutput(1, closed)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=encoding, errors=errors,
                                  line_buffering=line_buffering)


def _output_failed(message: str) -> None:
    """Report an output failure on stderr (if there is one) and exit with ``EXIT_OUTPUT`` at once."""
    with contextlib.suppress(Exception):
        sys.stderr.write(f"imr-rules: {printable(message)}\n")
        sys.stderr.flush()
    os._exit(EXIT_OUTPUT)  # no flush at exit: the buffered rest would fail again


def main() -> None:
    """Console entry point: run the app; turn any unexpected error into a one-line message and exit 1.

    Output failures (a file that cannot be written, a closed standard output, a broken pipe) exit 7.
    """
    _guard_stdout()
    try:
        try:
            app()
        finally:
            sys.stdout.flush()
    except SystemExit:
        raise
    except OutputError as exc:
        _output_failed(str(exc))
    except MissingExtraError as exc:
        typer.echo(f"imr-rules: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:
        typer.echo(printable(f"imr-rules: internal error: {type(exc).__name__}: {exc}"), err=True)
        sys.exit(EXIT_INTERNAL)
