"""The ``imr-rules`` command line. Thin: parses options, calls the pipeline, prints, sets the exit code."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict, ValidationError

from imr_rules import __version__
from imr_rules.cases.model import Case
from imr_rules.cases.reader import parse_case, read_case
from imr_rules.cases.vocabulary import Vocabulary, vocabulary_of
from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import load_yaml
from imr_rules.engine.durable_adapter import EngineError
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import default_rules_dir, evaluator, load_rule_base
from imr_rules.engine.results import CaseResult
from imr_rules.review.report import render_text

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BAD_CASE = 3
EXIT_BAD_RULES = 4
EXIT_REPLAY_DIFFERS = 6

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
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


RulesOption = Annotated[Path | None, typer.Option("--rules", help="Rules folder (default: the shipped rules).")]


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
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.text,
    trace: Annotated[bool, typer.Option(help="Show the rules fired (text format).")] = True,
    out_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Decide every requested item of a case: Upheld / Overturned, with a cited rationale."""
    rule_base_evaluator = _evaluator_or_exit(rules)
    if str(case_file) == "-":
        from imr_rules.review.batch import evaluate_stream

        failed = evaluate_stream(sys.stdin, sys.stdout, rule_base_evaluator)
        raise typer.Exit(EXIT_BAD_CASE if failed else EXIT_OK)
    try:
        case = read_case(case_file, vocabulary=rule_base_evaluator.compiled.rule_base.vocabulary)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_CASE, "case not evaluated") from None
    try:
        result = rule_base_evaluator.evaluate(case)
    except EngineError as exc:
        typer.echo(f"{case_file}: engine error: {exc}", err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    _write(_render(case, result, output, trace), out_file)


def _render(case: Case, result: CaseResult, output: OutputFormat, trace: bool) -> str | bytes:
    from imr_rules.review.determination import decision_record, render_document, render_pdf

    if output == OutputFormat.json:
        return json.dumps(decision_record(case, result), indent=2, ensure_ascii=False) + "\n"
    if output in (OutputFormat.markdown, OutputFormat.html):
        return render_document(case, result, output.value)
    if output == OutputFormat.pdf:
        return render_pdf(case, result)
    return render_text(result, trace)


def _write(content: str | bytes, out_file: Path | None) -> None:
    if out_file is not None:
        if isinstance(content, bytes):
            out_file.write_bytes(content)
        else:
            out_file.write_text(content, encoding="utf-8")
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
    """Re-evaluate a decision record's case and compare: same record id, decisions and citations."""
    from imr_rules.review.determination import decision_record

    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        case = parse_case(record["case"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        typer.echo(f"{record_file}: error: not a decision record: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_CASE) from None
    engine = _evaluator_or_exit(rules)
    again = decision_record(case, engine.evaluate(case))
    compared = ("decision", "basis", "rule", "citation", "rationale")
    differences = [f"item {new['item_id']}: {field} {old.get(field)!r} -> {new.get(field)!r}"
                   for old, new in zip(record.get("items", []), again["items"], strict=False)
                   for field in compared if old.get(field) != new.get(field)]
    if record.get("record_id") != again["record_id"]:
        typer.echo(f"record id {record.get('record_id')} -> {again['record_id']} (rule base "
                   f"{record.get('rule_base_version')} -> {again['rule_base_version']}, imr-rules "
                   f"{record.get('engine_version')} -> {again['engine_version']})")
    if differences:
        typer.echo("\n".join(["not reproduced:", *differences]))
        raise typer.Exit(EXIT_REPLAY_DIFFERS)
    typer.echo(f"reproduced: record {again['record_id']}, {len(again['items'])} item(s) identical")


@app.command()
def explain(
    case_file: Annotated[Path, typer.Argument(help="Case YAML file.", show_default=False)],
    item: Annotated[str | None, typer.Option("--item", help="Only this requested item id.")] = None,
    rules: RulesOption = None,
) -> None:
    """Why each item came out as it did, what documentation is missing, and what would change the decision."""
    from imr_rules.review.report import render_explanation
    from imr_rules.review.whatif import what_would_change

    engine = _evaluator_or_exit(rules)
    try:
        case = read_case(case_file, vocabulary=engine.compiled.rule_base.vocabulary)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_CASE, "case not explained") from None
    if item is not None and item not in {i.id for i in case.requested_items}:
        typer.echo(f"{case_file}: error: --item {item}: no such requested item "
                   f"(items: {', '.join(i.id for i in case.requested_items)})", err=True)
        raise typer.Exit(EXIT_USAGE)
    result = engine.evaluate(case)
    changes = {i.id: what_would_change(engine, case, i.id) for i in case.requested_items
               if item is None or i.id == item}
    descriptions = {name: spec.description for name, spec in engine.compiled.rule_base.facts.items()}
    typer.echo(render_explanation(result, changes, descriptions, item), nl=False)


@app.command()
def validate(
    rules_dir: Annotated[Path | None, typer.Argument(help="Rules folder (default: the shipped rules).")] = None,
    cases: Annotated[list[Path] | None, typer.Argument(help="Case files to validate too.",
                                                          show_default=False)] = None,
    examples: Annotated[bool, typer.Option(help="Also evaluate each rule's example cases.")] = True,
) -> None:
    """Check a rule base (and cases): formats, references, conditions, templates, examples."""
    from imr_rules.authoring.examples import check_example, load_examples

    root = rules_dir or default_rules_dir()
    try:
        rule_base, diagnostics = load_rule_base(root)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, f"rules {root}") from None
    problems = list(diagnostics)
    if examples:
        found, example_problems = load_examples(rule_base)
        problems += example_problems
        engine = evaluator(root)
        for example in found:
            problems += check_example(example, engine)
    case_problems: list[Diagnostic] = []
    for case_file in cases or []:
        try:
            read_case(case_file, vocabulary=rule_base.vocabulary)
        except InputError as exc:
            case_problems += exc.diagnostics
    _print_diagnostics(problems + case_problems)
    rule_errors = [d for d in problems if d.severity == "error"]
    if rule_errors:
        typer.echo(f"rules {root}: {len(rule_errors)} error(s)", err=True)
        raise typer.Exit(EXIT_BAD_RULES)
    if case_problems:
        typer.echo(f"cases: {len(case_problems)} error(s)", err=True)
        raise typer.Exit(EXIT_BAD_CASE)
    typer.echo(f"ok: {len(rule_base.topics)} topic rules, {len(rule_base.derivations)} shared derivations, "
               f"{len(cases or [])} case(s) valid; rule base {rule_base.version}")


@app.command("coverage")
def coverage_command(
    paths: Annotated[list[Path], typer.Argument(help="Case files or folders (e.g. cases/historical).",
                                                show_default=False)],
    rules: RulesOption = None,
) -> None:
    """Share of items the rule base addresses, per service category, and agreement with recorded decisions."""
    from imr_rules.regression.report import render_coverage
    from imr_rules.regression.runner import ItemOutcome, case_files, coverage, evaluate_files

    engine = _evaluator_or_exit(rules)
    rows: list[ItemOutcome] = []
    bad: list[Diagnostic] = []
    for file_result in evaluate_files(case_files(paths), engine):
        rows.extend(file_result.outcomes)
        bad.extend(file_result.problems)
    table = coverage(rows)
    typer.echo(render_coverage(table, dt.date.today(), engine.rule_base_version), nl=False)
    if bad:
        _print_diagnostics(bad)
        raise typer.Exit(EXIT_BAD_CASE)


EXIT_UNEXPECTED_FLIPS = 5


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


def _read_accepted(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    document = load_yaml(path)
    try:
        accepted = AcceptedFlips.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(translate(exc, document, AcceptedFlips)) from None
    return {entry.item: entry.reason for entry in accepted.accepted}


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
) -> None:
    """Evaluate cases with recorded determinations; report agreement, citations, disagreements and flips."""
    from imr_rules.regression import report as regress_report
    from imr_rules.regression.runner import baseline_of, case_files, compare_baseline, compute_metrics, run_files

    root = rules or default_rules_dir()
    try:
        rule_base, _ = load_rule_base(root)
        accepted = _read_accepted(accept)
        previous = json.loads(baseline.read_text()) if baseline else None
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES if accept is None else EXIT_BAD_CASE, "not run") from None
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"{baseline}: error: cannot read the baseline: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_CASE) from None
    files = case_files(paths)
    results = run_files(files, root, jobs, _progress_printer(progress))
    rows = [row for result in results for row in result.outcomes]
    problems = [d for result in results for d in result.problems]
    metrics = compute_metrics(rows)
    flips = None
    if previous is not None:
        flips, _ = compare_baseline(rows, previous, accepted)
    today = dt.date.today()
    cases = sum(1 for result in results if result.outcomes)
    typer.echo(regress_report.render_text(metrics, rows, flips, today, rule_base.version, cases), nl=False)
    if write_baseline:
        write_baseline.write_text(json.dumps(baseline_of(rows, rule_base.version), indent=1, sort_keys=True) + "\n")
    if junit:
        junit.write_text(regress_report.render_junit(rows))
    if html_file:
        html_file.write_text(regress_report.render_html(metrics, rows, flips, today, rule_base.version))
    letters = [result for result in results if result.extracted]
    if letters:
        warned = sum(1 for result in letters if result.warnings)
        typer.echo(f"{len(letters)} letter(s) extracted on the fly; {warned} with extraction warnings "
                   f"(`imr-rules extract LETTER` lists them)", err=True)
    if problems:
        _print_diagnostics(problems)
        raise typer.Exit(EXIT_BAD_CASE)
    unexpected = [flip for flip in flips or [] if flip.accepted_reason is None]
    if unexpected:
        typer.echo(f"{len(unexpected)} unexpected change(s) since the baseline", err=True)
        raise typer.Exit(EXIT_UNEXPECTED_FLIPS)


class ExtractFormat(StrEnum):
    """Output formats of ``extract``."""

    yaml = "yaml"
    json = "json"


@app.command()
def extract(
    letters: Annotated[list[Path], typer.Argument(help="IMR determination letters (PDF or text).",
                                                  show_default=False)],
    out_dir: Annotated[Path | None, typer.Option("--output-dir", "-o", help="Write one case file per letter here.")]
    = None,
    output: Annotated[ExtractFormat, typer.Option("--format", "-f", help="Case file format.")] = ExtractFormat.yaml,
) -> None:
    """Turn IMR letters into case files with their recorded decisions (facts from the case summary only)."""
    from imr_rules.intake.extract import case_document, extract_letter

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for letter in letters:
        result = extract_letter(letter)
        _print_diagnostics(result.problems)
        if result.case is None:
            failed += 1
            typer.echo(f"{result.path}: not extracted", err=True)
            continue
        document = case_document(result.case)
        if output == ExtractFormat.json:
            content = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        else:
            import yaml

            content = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
        if out_dir is None:
            typer.echo(content if output == ExtractFormat.json else "---\n" + content, nl=False)
        else:
            target = out_dir / f"{result.case.case_id}.{output.value}"
            target.write_text(content, encoding="utf-8")
            typer.echo(f"{result.path}: {len(result.case.requested_items)} item(s) -> {target}", err=True)
    if failed:
        typer.echo(f"{failed} of {len(letters)} letter(s) not extracted", err=True)
        raise typer.Exit(EXIT_BAD_CASE)


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


rules_app = typer.Typer(no_args_is_help=True, help="Inspect the rule base.")
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(
    rules: RulesOption = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (docs/rules.md).")] = False,
) -> None:
    """The rule catalogue: topic, edition, citation, effective period and example count of every topic rule."""
    from imr_rules.authoring.catalogue import render_catalogue

    try:
        rule_base, _ = load_rule_base(rules)
    except InputError as exc:
        raise _fail(exc.diagnostics, EXIT_BAD_RULES, "rule base not usable") from None
    typer.echo(render_catalogue(rule_base, markdown), nl=False)


@app.command()
def schema(rules: RulesOption = None) -> None:
    """Print the JSON Schema of the case format (for editors), with the terms of the rule base's vocabulary."""
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
    typer.echo(render_vocabulary(_vocabulary_or_exit(rules), kind, search), nl=False)


@app.command()
def version() -> None:
    """Print the imr-rules version."""
    typer.echo(__version__)


def main() -> None:
    """Console entry point: run the app; turn any unexpected error into a one-line message and exit 1."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:
        typer.echo(f"imr-rules: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
