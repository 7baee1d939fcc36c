"""Property-based fuzzing (hypothesis): case files, batch streams, rule files and letters.

For every generated or mutated input: no exception escapes, the exit code is a documented one, and every
error names its file (and line). Every evaluation is reproducible: the same record, byte for byte, and
the same outcomes whether ``regress`` runs in one process or two.

The default profile (``ci``) is short and deterministic; ``HYPOTHESIS_PROFILE=long`` runs many more
examples (see tests/conftest.py).
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from imr_rules.cases.model import Case
from imr_rules.cases.reader import read_case
from imr_rules.cli import app
from imr_rules.common.diagnostics import InputError
from imr_rules.engine.knowledge_base import evaluator, load_rule_base
from imr_rules.intake.extract import case_document, extract_letter
from imr_rules.review.batch import evaluate_stream
from imr_rules.review.determination import decision_record, normalized_case, record_id
from tools.synthetic import synthetic_case

from .conftest import RULES, SEEDS, SHARED, examples
from .test_extract import HEADER, ISSUES

RUNNER = CliRunner()
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.yaml"))]
HISTORICAL = sorted((RULES.parent / "cases" / "historical").glob("*.yaml"))[:12]
CASE_TEXTS = SEED_TEXTS + [p.read_text(encoding="utf-8") for p in HISTORICAL]
TOKENS = ["&a ", "*a", "&a [*a]", "[", "]", "{", "}", ": ", "- ", "\t", "\x00", "\x1b[31m", "\x07", "\n", "  ", "#",
          "'", '"', "!!python/object/apply:os.system ['true']", "!!binary AAAA", "2015-02-30", "0000-00-00",
          "9" * 40, "-1", "1e999", ".nan", "true", "null", "~", "<link rel=attachment href=file:///etc/passwd>",
          "\u202e", "%YAML 1.1\n", "---\n", "...\n", "? ", "|\n", ">\n", "\ufeff", "\u2028", "é", "\r"]
ERROR_LINE = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+): error: ")


# ---- generators ---------------------------------------------------------------------------------------------------
@st.composite
def mutated_text(draw: st.DrawFn, seeds: list[str]) -> str:
    """A seed text with 1-6 edits: tokens inserted, spans deleted or replaced, lines dropped, doubled or swapped."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 6))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(["insert", "delete", "replace", "drop", "double", "swap", "text"]))
        at = draw(st.integers(0, max(0, len(text) - 1)))
        line = draw(st.integers(0, len(lines) - 1))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "replace":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at + draw(st.integers(1, 10)):]
        elif kind == "drop":
            text = "\n".join(lines[:line] + lines[line + 1:])
        elif kind == "double":
            text = "\n".join(lines[:line + 1] + lines[line:])
        elif kind == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
            text = "\n".join(lines)
        else:
            text = text[:at] + draw(st.text(max_size=12)) + text[at:]
    return text


SCALARS = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=8)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _case_data(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(text), default=str))
    return data


VALID_DATA = [_case_data(text) for text in CASE_TEXTS]


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at a path of keys and indexes."""
    for part in path:
        data = data[part]
    return data


def _key_of(path: tuple[Any, ...]) -> str | None:
    """The key a value is under: its own, or its list's (``regions`` for ``requested_items[0].regions[1]``)."""
    return next((part for part in reversed(path) if isinstance(part, str)), None)


def _values_by_key(corpus: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every scalar value the corpus gives under each key (``status``: present, absent; ``region``: ...)."""
    found: dict[str, set[str]] = {}
    for data in corpus:
        for path in _paths(data):
            key = _key_of(path)
            value = _at(data, path)
            if key is not None and not isinstance(value, (dict, list)):
                found.setdefault(key, set()).add(json.dumps(value))
    return {key: [json.loads(v) for v in sorted(values)] for key, values in found.items() if len(values) > 1}


VALUES_BY_KEY = _values_by_key(VALID_DATA)


@st.composite
def mutated_case_data(draw: st.DrawFn) -> Any:
    """A valid case with 1-3 edits: a scalar replaced by another value the corpus gives under the same key (a
    region for a region, absent for present: mostly still a valid case, evaluated with facts no file has
    together), a value replaced by arbitrary JSON, a key deleted or an unknown key added."""
    data = json.loads(json.dumps(draw(st.sampled_from(VALID_DATA))))
    for _ in range(draw(st.integers(1, 3))):
        # hypothesis draws the first entry most often: the schema line (first in every file) goes last, so
        # that not a third of the examples end at "not schema 2"
        paths = sorted((p for p in _paths(data) if p), key=lambda p: p == ("schema",))
        action = draw(st.sampled_from(["vary", "set", "vary", "delete", "add"]))
        if action == "vary":
            paths = [p for p in paths if _key_of(p) in VALUES_BY_KEY and not isinstance(_at(data, p), (dict, list))]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _at(data, path[:-1])
        if action == "vary":
            parent[path[-1]] = draw(st.sampled_from(VALUES_BY_KEY[str(_key_of(path))]))
        elif action == "set":
            parent[path[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(JSON_VALUES)
    return data


def synthetic(seed: int) -> dict[str, Any]:
    """A valid generated case (tools/synthetic.py) for a seed."""
    return synthetic_case(seed, random.Random(seed))


# ---- helpers ------------------------------------------------------------------------------------------------------
def _invoke(*args: str) -> Any:
    result = RUNNER.invoke(app, [*args, "--rules", str(RULES)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _assert_located(stderr: str, name: str) -> None:
    """Every error line names the file and a line, and nothing looks like a traceback."""
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if ": error: " in line]
    assert errors, stderr
    for line in errors:
        match = ERROR_LINE.match(line)
        assert match is not None and match["file"].endswith(name), line


def _check_case_file(path: Path) -> None:
    result = _invoke("evaluate", str(path), "-f", "json")
    assert result.exit_code in (0, 3), (result.exit_code, result.stderr)
    if result.exit_code == 3:
        _assert_located(result.stderr, path.name)
        assert result.stdout == ""
    else:
        record = json.loads(result.stdout)
        assert record["items"] and record["record_id"]


# ---- case files -----------------------------------------------------------------------------------------------------
def test_the_fuzz_corpus_is_read_as_valid_cases_and_evaluated(tmp_path: Path) -> None:
    """The fuzz tests mutate these cases: each must be a valid case (format 2, vocabulary, dates) that evaluates,
    or the mutations would only ever meet the first refusal (as when every file was refused as version 1)."""
    engine = evaluator(RULES)
    generated = [yaml.safe_dump(synthetic(seed)) for seed in range(20)]
    for index, text in enumerate(CASE_TEXTS + generated):
        path = tmp_path / f"c{index}.yaml"
        path.write_text(text, encoding="utf-8")
        case = read_case(path)
        assert len(engine.evaluate(case).items) == len(case.requested_items)
    assert {"status", "region", "regions", "service", "concept", "date"} <= set(VALUES_BY_KEY)


@examples(ci=120, long=3000)
@given(text=mutated_text(CASE_TEXTS), raw_bytes=st.lists(st.binary(min_size=1, max_size=3), max_size=2))
def test_mutated_yaml_case_files(tmp_path: Path, text: str, raw_bytes: list[bytes]) -> None:
    data = text.encode("utf-8", "surrogatepass")
    for chunk in raw_bytes:  # some invalid UTF-8 now and then
        data = data[: len(data) // 2] + chunk + data[len(data) // 2:]
    path = tmp_path / "case.yaml"
    path.write_bytes(data)
    _check_case_file(path)


@examples(ci=120, long=3000)
@given(data=mutated_case_data(), as_json=st.booleans())
def test_mutated_case_data_as_yaml_or_json(tmp_path: Path, data: Any, as_json: bool) -> None:
    path = tmp_path / ("case.json" if as_json else "case.yaml")
    try:
        text = json.dumps(data, ensure_ascii=False) if as_json else yaml.safe_dump(data, allow_unicode=True)
    except (ValueError, yaml.YAMLError):
        return  # not representable in that format (hypothesis makes NaN keys and the like)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _check_case_file(path)


# ---- evaluations are reproducible --------------------------------------------------------------------------------
@examples(ci=50, long=1000)
@given(seed=st.integers(0, 10**9))
def test_evaluation_is_reproducible(seed: int) -> None:
    case = Case.model_validate(synthetic(seed))
    engine = evaluator(RULES)
    first = json.dumps(decision_record(case, engine.evaluate(case)), sort_keys=True)
    again = Case.model_validate(json.loads(json.dumps(normalized_case(case))))  # through its JSON form
    second = json.dumps(decision_record(again, engine.evaluate(again)), sort_keys=True)
    assert first == second
    assert json.loads(first)["record_id"] == record_id(again, engine.rule_base_version)


@examples(ci=2, long=20)
@given(seeds=st.lists(st.integers(0, 10**9), min_size=6, max_size=14, unique=True))
def test_regress_outcomes_are_the_same_for_one_and_two_processes(tmp_path: Path, seeds: list[int]) -> None:
    from imr_rules.regression.runner import run_files

    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    files = []
    for index, seed in enumerate(seeds):
        path = folder / f"c{index:02d}.yaml"
        path.write_text(yaml.safe_dump(synthetic(seed)) if index % 5 else "case_id: [broken\n")
        files.append(path)
    one = run_files(files, RULES, 1)
    two = run_files(files, RULES, 2)
    assert [(r.path, r.outcomes, r.problems) for r in one] == [(r.path, r.outcomes, r.problems) for r in two]
    assert sum(bool(r.problems) for r in one) == len(range(0, len(seeds), 5))


# ---- batch streams ------------------------------------------------------------------------------------------------
def _good_line(seed: int) -> bytes:
    return json.dumps(synthetic(seed)).encode()


LINES = st.one_of(
    st.integers(0, 10**6).map(_good_line),
    mutated_case_data().map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.integers(0, 10**6).map(lambda s: _good_line(s)[: s % 200]),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    st.integers(1, 4000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 400).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b"", b"   ", b"\r", b"null", b"[]", b"{}", b'"x"', b"\xef\xbb\xbf{}", b"1e999999"]),
)


@examples(ci=50, long=1500)
@given(lines=st.lists(LINES, max_size=8))
def test_batch_streams_answer_every_line_and_end_with_the_trailer(lines: list[bytes]) -> None:
    source = io.BytesIO(b"\n".join(lines) + b"\n")
    sink = io.StringIO()
    failed = evaluate_stream(source, sink, evaluator(RULES))
    *records, end = [json.loads(line) for line in sink.getvalue().rstrip("\n").split("\n")]  # JSON Lines: "\\n" only
    expected = [number for number, line in enumerate(lines, start=1) if line.strip()]
    assert [r["line"] for r in records] == expected
    assert end == {"end_of_batch": True, "answered": len(expected), "ok": len(expected) - failed, "failed": failed}
    for record in records:
        assert record["ok"] == ("result" in record)
        if not record["ok"]:
            assert record["errors"] and all(e["line"] == record["line"] and e["message"] for e in record["errors"])
            assert not any("internal error" in e["message"] for e in record["errors"]), record


# ---- rule files ---------------------------------------------------------------------------------------------------
RULE_TARGETS = ["physical_medicine/chronic_pm_2009.yaml", "facts.yaml", "guidelines.yaml"]


@pytest.fixture(scope="module")
def rules_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fuzz") / "rules"
    shutil.copytree(RULES, target)
    return target


RULE_TEXTS = {name: (RULES / name).read_text(encoding="utf-8") for name in RULE_TARGETS}


@examples(ci=50, long=1500)
@given(name=st.sampled_from(RULE_TARGETS), data=st.data())
def test_mutated_rule_files_are_refused_with_located_errors(rules_folder: Path, name: str, data: st.DataObject) -> None:
    text = data.draw(mutated_text([RULE_TEXTS[name]]))
    path = rules_folder / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_rule_base(rules_folder)
    except InputError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        assert errors and all(d.file and d.line for d in errors), [d.render() for d in errors]
    finally:
        path.write_text(RULE_TEXTS[name], encoding="utf-8")


# ---- letters (text) ---------------------------------------------------------------------------------------------
LETTER_TEXTS = [HEADER + "A 47 year old male injured his low back; 12 sessions of physical therapy without benefit.\n"
                + ISSUES]
LETTER_TEXTS += [p.read_text(encoding="utf-8") for p in sorted((SHARED / "letters" / "dev").glob("*.txt"))[:3]]


@examples(ci=16, long=600)
@given(text=mutated_text(LETTER_TEXTS))
def test_mutated_letters_extract_or_say_why(tmp_path: Path, text: str) -> None:
    path = tmp_path / "letter.txt"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    extraction = extract_letter(path)
    if extraction.case is None:
        assert [d for d in extraction.problems if d.severity == "error"], extraction.problems
        return
    document = case_document(extraction.case)
    case = Case.model_validate(json.loads(json.dumps(document)))
    result = evaluator(RULES).evaluate(case)
    assert len(result.items) == len(case.requested_items)
