"""The probe's reproducers (issue 11): each hostile input ends in a clear, located error with a documented exit.

Sections follow the numbered defects of the issue: 1 injection into documents and the terminal, 2 the
rule-base cache, 3 inputs that used to end in "internal error", 4 memory and time, 5 batch, 6 outputs,
7 replay, 9 exit codes and messages (8, durable's limits, is tested with the compiler).
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import resource
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from imr_rules.cli import app
from imr_rules.common import outputs
from imr_rules.common.outputs import OutputError, OutputExistsError, write_atomic
from imr_rules.common.text import printable
from imr_rules.review import determination

from .conftest import ROOT, RULES, SEEDS, run_cli
from .test_bad_case_input import GOOD, variant
from .test_extract import HEADER, ISSUES

SEED = SEEDS / "seed-000-cervical-fusion.yaml"
ATTACH = "<link rel=attachment href=file:///etc/passwd>PT"
FORGED = "PT\n3. Fake item: Overturned \x1b[31mRED\x1b[0m\x07\x00"


def _case_with_description(tmp_path: Path, description: str, name: str = "case.yaml") -> Path:
    data = yaml.safe_load(GOOD)
    data["requested_items"][0]["description"] = description
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _cli(*args: str | Path, stdin: bytes | None = None, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a process, with bytes in and out (for control characters and closed streams)."""
    return subprocess.run([sys.executable, "-m", "imr_rules", *map(str, args)], input=stdin, capture_output=True,
                          cwd=kwargs.pop("cwd", ROOT), timeout=kwargs.pop("timeout", 120), check=False, **kwargs)


# ---- 1. case and letter text cannot add markup, attachments, report lines or terminal escapes ------------------
def test_1_html_is_escaped_and_the_pdf_embeds_no_file(tmp_path: Path) -> None:
    from pypdf import PdfReader

    case = _case_with_description(tmp_path, ATTACH)
    html = run_cli("evaluate", case, "-f", "html")
    assert html.returncode == 0, html.stderr
    assert "&lt;link rel=attachment href=file:///etc/passwd&gt;PT" in html.stdout
    assert "<link rel=attachment" not in html.stdout
    pdf = tmp_path / "out.pdf"
    done = run_cli("evaluate", case, "-f", "pdf", "-o", pdf)
    assert done.returncode == 0, done.stderr
    reader = PdfReader(pdf)
    assert not reader.attachments and b"/EmbeddedFile" not in pdf.read_bytes()
    fonts = {str(font.get_object()["/BaseFont"]).split("+")[-1] for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    assert fonts <= {"IMR-Serif", "IMR-Serif-Bold", "IMR-Serif-Italic"}, fonts  # only the shipped fonts


def test_1_the_pdf_fetcher_serves_only_the_shipped_fonts() -> None:
    fonts = sorted((ROOT / "engine" / "imr_rules" / "templates" / "fonts").glob("*.ttf"))
    assert determination._shipped_font(fonts[0].as_uri()) == fonts[0].read_bytes()
    for url in ("file:///etc/passwd", "https://example.org/x.css", fonts[0].as_uri() + "/../../../../etc/passwd",
                (fonts[0].parent / "../determination.html.j2").resolve().as_uri()):
        with pytest.raises(ValueError, match="refused"):
            determination._shipped_font(url)


def test_1_markdown_is_escaped_and_stays_on_its_line(tmp_path: Path) -> None:
    case = _case_with_description(tmp_path, ATTACH + " [x](http://evil) | *b* " + FORGED)
    done = _cli("evaluate", case, "-f", "markdown")
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert "<link" not in text and "\\[x\\](http://evil)" in text and "\x1b" not in text and "\x00" not in text
    heading = next(line for line in text.splitlines() if line.startswith("### "))
    assert "&lt;link rel=attachment" in heading and "3. Fake item" in heading
    assert not any(line.startswith("3. Fake") for line in text.splitlines())


def test_1_text_report_and_terminal_get_no_forged_line_and_no_control_characters(tmp_path: Path) -> None:
    case = _case_with_description(tmp_path, FORGED)
    for args in (("evaluate", case), ("explain", case)):
        done = _cli(*args)
        assert done.returncode == 0, done.stderr
        out = done.stdout.decode()
        assert not any(line.startswith("3. Fake item") for line in out.splitlines()), out
        assert not set(out) & {"\x1b", "\x07", "\x00"}
        assert "PT 3. Fake item: Overturned \\x1b[31mRED\\x1b[0m\\x07\\x00" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + '"vis\\x1b[2J\\x07": 1\n', encoding="utf-8")
    done = _cli("evaluate", bad)
    assert done.returncode == 3 and b"\x1b" not in done.stderr and b"\x07" not in done.stderr
    assert b"vis\\x1b[2J\\x07" in done.stderr


def test_1_json_and_regress_output_carry_no_raw_terminal_controls(tmp_path: Path) -> None:
    case = _case_with_description(tmp_path, "PT \x9b2J \u2028 \u202e")
    data = yaml.safe_load(case.read_text(encoding="utf-8"))
    data["case_id"] = "X\x1b[2J"
    data["recorded"] = {"items": [{"item": "1", "decision": "Overturned", "guideline": "cpmtg_2009"}]}
    case.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    record = _cli("evaluate", case, "-f", "json")
    assert record.returncode == 0, record.stderr
    assert not set(record.stdout.decode()) & {"\x9b", "\u2028", "\u202e", "\x1b"}
    assert json.loads(record.stdout)["items"][0]["description"] == "PT \x9b2J \u2028 \u202e"
    for command in ("regress", "coverage"):
        done = _cli(command, case)
        assert done.returncode == 0 and b"\x1b" not in done.stdout and b"\xc2\x9b" not in done.stdout, done.stderr


def test_1_a_letter_item_title_is_escaped_in_the_determination(tmp_path: Path) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text(HEADER + "A 40 year old male.\n" + ISSUES.replace("Knee MRI, right side",
                                                                         "Knee MRI <img src=file:///etc/passwd>"),
                      encoding="utf-8")
    out = tmp_path / "cases"
    assert run_cli("extract", letter, "-o", out).returncode == 0
    html = run_cli("evaluate", out / "CM99-0000001.yaml", "-f", "html")
    assert html.returncode == 0, html.stderr
    assert "&lt;img src=file:///etc/passwd&gt;" in html.stdout and "<img" not in html.stdout


def test_1_printable_keeps_text_and_escapes_controls() -> None:
    assert printable("Physical therapy 2x/week — right knee") == "Physical therapy 2x/week — right knee"
    assert printable("a\nb\r\n\tc") == "a b c"
    assert printable("\x1b[31m\x07\x00\u202e") == "\\x1b[31m\\x07\\x00\\u202e"


# ---- 2. no pickle cache: nothing is written outside the outputs, nothing planted is loaded --------------------
def test_2_no_pickle_in_the_package() -> None:
    sources = (ROOT / "engine" / "imr_rules").rglob("*.py")
    assert not [p for p in sources if "import pickle" in p.read_text(encoding="utf-8")]


def test_2_a_planted_cache_file_is_never_loaded_and_nothing_is_cached(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    marker = tmp_path / "planted-code-ran"
    payload = (b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    for name in ("rules-" + "0" * 32 + ".pickle", "rules.pickle"):
        (cache / name).write_bytes(payload)
    env = {**os.environ, "HOME": str(home), "IMR_RULES_CACHE_DIR": str(cache)}
    env.pop("XDG_CACHE_HOME", None)
    done = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", SEED], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert list(home.iterdir()) == [] and sorted(p.name for p in cache.iterdir()) == sorted(
        ["rules-" + "0" * 32 + ".pickle", "rules.pickle"])


# ---- 3. inputs that ended in "internal error" now get a located message, and a run goes on past them ----------
BAD_FILES = {
    "feb30.yaml": variant("injury_date: 2015-01-01", "injury_date: 2015-02-30"),
    "month13.yaml": variant("request_date: 2015-02-01", "request_date: 2015-13-01"),
    "zero.yaml": variant("injury_date: 2015-01-01", "injury_date: 0000-00-00"),
    "alias.yaml": GOOD + "x: &a [*a]\n",
    "nested.yaml": GOOD + "x: " + "[" * 470 + "]" * 470 + "\n",
}
LAST = GOOD.count("\n") + 1  # the line added after the good case
EXPECTED = {
    "feb30.yaml": "feb30.yaml:4: error: claim.injury_date: '2015-02-30' is not a valid date",
    "month13.yaml": "month13.yaml:5: error: request_date: '2015-13-01' is not a valid date",
    "zero.yaml": "zero.yaml:4: error: claim.injury_date: '0000-00-00' is not a valid date",
    "alias.yaml": f"alias.yaml:{LAST}: error: x[0]: an alias refers to the list or mapping that contains it",
    "nested.yaml": f"nested.yaml:{LAST}: error: x[0][0]...: nested more than 100 levels deep",
}
PADDED_LETTER = (HEADER + "A 40 year old male.\n" + ISSUES) + ("filler line of a padded letter\n" * 20_000)


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name, text in BAD_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    for seed in SEEDS.glob("*.yaml"):
        (folder / seed.name).write_bytes(seed.read_bytes())
    (folder / "huge-letter.txt").write_text(PADDED_LETTER, encoding="utf-8")
    return folder


def test_3_each_bad_file_is_located(bad_folder: Path) -> None:
    for name, expected in EXPECTED.items():
        done = run_cli("evaluate", name, cwd=bad_folder)
        assert done.returncode == 3 and expected in done.stderr, done.stderr
        assert "internal error" not in done.stderr


def test_3_regress_and_coverage_go_on_past_bad_files(bad_folder: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    for args in (("regress", bad_folder, "--write-baseline", baseline, "--jobs", "2"), ("coverage", bad_folder)):
        done = run_cli(*args)
        assert done.returncode == 3, done.stderr
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
        assert "6 of 8 input file(s) not evaluated" in done.stderr
        assert f"letter's text is {len(PADDED_LETTER):,} characters; the limit is 500,000" in done.stderr
        assert "TOTAL" in done.stdout or "Regression:" in done.stdout
    assert set(json.loads(baseline.read_text())["items"]) == {"SEED-000/1", "SEED-000/2", "SEED-001/1"}


def test_3_validate_checks_every_case_and_counts_the_bad_ones(bad_folder: Path) -> None:
    names = [*BAD_FILES, "seed-001-lumbar-pt.yaml"]
    done = run_cli("validate", "--no-examples", RULES, *names, cwd=bad_folder)
    assert done.returncode == 3
    assert "in 5 of 6 file(s)" in done.stderr and all(EXPECTED[n] in done.stderr for n in BAD_FILES)


# ---- 4. memory and time are bounded ------------------------------------------------------------------------------
BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join(["*" + chr(97 + i)] * 10) + "]\n" for i in range(8))


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))


def test_4_alias_bomb_in_a_case_or_a_rule_file_is_refused_within_bounded_memory(tmp_path: Path,
                                                                                 rules_copy: Path) -> None:
    assert len(BOMB) < 700
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    done = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", bomb], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, preexec_fn=_limit_memory, check=False)
    assert done.returncode == 3, done.stderr
    assert "bomb.yaml:1: error: (file): more than 200,000 values once aliases are expanded" in done.stderr
    (rules_copy / "imaging" / "bomb.yaml").write_text("kind: topic\n" + BOMB)
    done = subprocess.run([sys.executable, "-m", "imr_rules", "validate", rules_copy, "--no-examples"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, preexec_fn=_limit_memory,
                          check=False)
    assert done.returncode == 4 and "more than 200,000 values" in done.stderr, done.stderr


def test_4_devices_and_named_pipes_are_refused_without_reading(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    for path, kind in ((Path("/dev/zero"), "a device"), (pipe, "a named pipe")):
        done = run_cli("evaluate", path)
        assert done.returncode == 3 and f"is {kind}, not a YAML file" in done.stderr, done.stderr
    letter = run_cli("extract", pipe)
    assert letter.returncode == 3 and "is a named pipe, not a letter" in letter.stderr


def test_4_explain_evaluates_the_case_once_and_searches_a_bounded_number_of_items(tmp_path: Path,
                                                                                   monkeypatch: Any) -> None:
    from imr_rules.engine.evaluator import Evaluator
    from imr_rules.review import whatif

    monkeypatch.setattr(whatif, "MAX_SEARCHED_ITEMS", 4)  # 100 in use; a small cap keeps the test quick
    data = yaml.safe_load(GOOD)
    data["requested_items"] = [{**data["requested_items"][0], "id": str(n)} for n in range(1, 11)]
    case = tmp_path / "many.yaml"
    case.write_text(yaml.safe_dump(data))
    calls = {"case": 0}
    original = Evaluator.evaluate

    def counting(self: Evaluator, *args: Any, **kwargs: Any) -> Any:
        calls["case"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", counting)
    done = CliRunner().invoke(app, ["explain", str(case), "--rules", str(RULES)])
    assert done.exit_code == 0, done.output
    assert calls["case"] == 1  # not once per item: the search re-evaluates only its own item
    not_searched = [line for line in done.output.splitlines() if "not searched" in line]
    assert len(not_searched) == 10 - 4 and "explain --item 10 for this one" in not_searched[-1]
    assert "the first 4 items" in not_searched[0]


# ---- 5. batch: lines are independent, invalid bytes answered per line, a trailer marks the end ----------------
def test_5_batch_survives_deep_nesting_invalid_bytes_and_overlong_lines() -> None:
    good = json.dumps({**yaml.safe_load(GOOD), "claim": {"injury_date": "2015-01-01"}, "request_date": "2015-02-01"})
    lines = [good.encode(), b"[" * 3000 + b"]" * 3000, good.encode()[:40] + b"\xff\xfe" + good.encode()[40:],
             b'{"a": ' * 150 + b"1" + b"}" * 150, b"x" * 2_100_000, b"", good.encode()]
    done = _cli("evaluate", "-", stdin=b"\n".join(lines) + b"\n")
    assert done.returncode == 3, done.stderr
    *records, end = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["line"], r["ok"]) for r in records] == [(1, True), (2, False), (3, False), (4, False), (5, False),
                                                        (7, True)]
    messages = [r["errors"][0]["message"] for r in records if not r["ok"]]
    assert "nested more than 100 levels deep" in messages[0] and "not UTF-8" in messages[1]
    assert "nested more than 100 levels deep" in messages[2] and "longer than the limit" in messages[3]
    assert end == {"end_of_batch": True, "answered": 6, "ok": 2, "failed": 4}
    assert b"Traceback" not in done.stderr


def test_5_an_empty_batch_still_ends_with_its_trailer() -> None:
    done = _cli("evaluate", "-", stdin=b"")
    assert done.returncode == 0 and json.loads(done.stdout) == {"end_of_batch": True, "answered": 0, "ok": 0,
                                                                "failed": 0}


# ---- 6. outputs: atomic, no silent overwrite, JSON Lines for several letters, clear errors ----------------------
def test_6_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "case.pdf"
    target.write_bytes(b"old content" * 1000)

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", disk_full)
    with pytest.raises(OutputError, match="No space left on device"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old content" * 1000 and [p.name for p in tmp_path.iterdir()] == ["case.pdf"]
    monkeypatch.undo()
    with pytest.raises(OutputExistsError):
        write_atomic(target, b"new", replace=False)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"


def test_6_a_bad_output_path_is_reported_before_any_work(tmp_path: Path) -> None:
    for target, reason in ((tmp_path / "missing" / "x.pdf", "does not exist"), (tmp_path, "it is a folder")):
        done = run_cli("evaluate", SEED, "-f", "pdf", "-o", target)
        assert done.returncode == 7 and reason in done.stderr and "internal error" not in done.stderr


def test_6_extract_never_overwrites_silently(tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_text(HEADER + "A 40 year old male.\n" + ISSUES, encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_bytes(first.read_bytes())
    out = tmp_path / "cases"
    out.mkdir()
    handmade = out / "CM99-0000001.yaml"
    handmade.write_text("# hand-made\n")
    refused = run_cli("extract", first, "-o", out)
    assert refused.returncode == 7 and "exists; not replaced (add --force" in refused.stderr
    assert handmade.read_text() == "# hand-made\n"
    both = run_cli("extract", first, second, "-o", out, "--force")
    assert both.returncode == 3, both.stderr
    assert "a.txt in this run (same case number CM99-0000001)" in both.stderr and "b.txt not written" in both.stderr
    assert "CM99-0000001" in handmade.read_text() and not list(out.glob(".*"))


def test_6_extract_json_of_several_letters_is_json_lines_that_batch_reads(tmp_path: Path) -> None:
    letters = []
    for number in (1, 2):
        path = tmp_path / f"l{number}.txt"
        path.write_text((HEADER + "A 40 year old male.\n" + ISSUES).replace("CM99-0000001", f"CM99-000000{number}"),
                        encoding="utf-8")
        letters.append(path)
    extracted = run_cli("extract", *letters, "-f", "json")
    assert extracted.returncode == 0, extracted.stderr
    assert len(extracted.stdout.splitlines()) == 2
    batch = _cli("evaluate", "-", stdin=extracted.stdout.encode())
    *records, end = [json.loads(line) for line in batch.stdout.splitlines()]
    assert batch.returncode == 0 and all(r["ok"] for r in records) and end["answered"] == 2


# ---- 7. replay checks the whole record -----------------------------------------------------------------------
TAMPERING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "items emptied": (lambda r: r.__setitem__("items", []), "items: the record has ids []"),
    "item removed": (lambda r: r["items"].pop(), 'items: the record has ids ["1"], the case gives ["1", "2"]'),
    "item id changed": (lambda r: r["items"][0].__setitem__("item_id", "9"), 'ids ["9", "2"]'),
    "rule base forged": (lambda r: r.__setitem__("rule_base_version", "0123456789ab"),
                         "rule_base_version: \"0123456789ab\" ->"),
    "record id forged": (lambda r: r.__setitem__("record_id", "0" * 20), "does not match the record's own case"),
    "rationale edited": (lambda r: r["items"][1].__setitem__("rationale", "edited"), "item 2: rationale \"edited\""),
}


def test_7_replay_reports_every_tampering(tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    assert run_cli("evaluate", SEED, "-f", "json", "-o", record).returncode == 0
    assert run_cli("replay", record).returncode == 0
    original = json.loads(record.read_text())
    for what, (tamper, expected) in TAMPERING.items():
        changed = json.loads(json.dumps(original))
        tamper(changed)
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(changed))
        done = run_cli("replay", path)
        assert done.returncode == 6, what
        assert done.stdout.startswith("not reproduced:") and expected in done.stdout, (what, done.stdout)
    path = tmp_path / "array.json"
    path.write_text("[1]")
    assert run_cli("replay", path).returncode == 3


# ---- 9. exit codes and messages ----------------------------------------------------------------------------------
def test_9_control_character_is_located(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_bytes(variant("description: Physical therapy", "description: Physical\x07 therapy").encode())
    done = run_cli("evaluate", case, cwd=tmp_path)
    assert done.returncode == 3 and "case.yaml:8: error: (file): control character U+0007 in column" in done.stderr


def test_9_symlink_loop_and_unreadable_files(tmp_path: Path, rules_copy: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    done = run_cli("evaluate", tmp_path / "a.yaml")
    assert done.returncode == 3 and "symbolic link loop" in done.stderr
    loop = rules_copy / "imaging" / "loop.yaml"
    loop.symlink_to(loop)
    done = run_cli("validate", rules_copy, "--no-examples")
    assert done.returncode == 4 and "loop.yaml: error: (file): symbolic link loop" in done.stderr


def test_9_an_unreadable_case_or_rule_file_is_a_located_error(tmp_path: Path, monkeypatch: Any,
                                                               rules_copy: Path) -> None:
    from imr_rules.common import inputs

    real_open = os.open
    blocked = {"secret.yaml"}  # one file at a time: the evaluator may be built in this process or not

    def unreadable(path: Any, flags: int, *args: Any) -> int:
        if Path(path).name in blocked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    case = tmp_path / "secret.yaml"
    case.write_text(GOOD)
    monkeypatch.setattr(inputs.os, "open", unreadable)
    runner = CliRunner()
    done = runner.invoke(app, ["evaluate", str(case), "--rules", str(RULES)])
    assert done.exit_code == 3, done.output
    assert "secret.yaml: error: (file): permission denied: the file cannot be read" in done.output
    blocked.add("facts.yaml")
    done = runner.invoke(app, ["validate", str(rules_copy), "--no-examples"])
    assert done.exit_code == 4 and "facts.yaml: error: (file): permission denied" in done.output, done.output


def test_9_closed_stdout_and_broken_pipe_exit_7_with_a_message() -> None:
    closed = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", str(SEED)], capture_output=False,
                            stdout=None, stderr=subprocess.PIPE, cwd=ROOT, timeout=120, check=False,
                            pass_fds=(), preexec_fn=lambda: os.close(1))
    assert closed.returncode == 7 and b"cannot write to standard output: it is closed" in closed.stderr
    good = json.dumps({**yaml.safe_load(GOOD), "claim": {"injury_date": "2015-01-01"}, "request_date": "2015-02-01"})
    process = subprocess.Popen([sys.executable, "-m", "imr_rules", "evaluate", "-"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    feeder = threading.Thread(target=_feed, args=(process.stdin, (good + "\n").encode() * 400))
    feeder.start()
    process.stdout.read(10)
    process.stdout.close()  # the reader goes away, like `| head -c 10`
    stderr = process.stderr.read()
    feeder.join()
    assert process.wait(timeout=120) == 7 and b"broken pipe" in stderr


def _feed(stream: io.BufferedWriter, data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except BrokenPipeError:
        pass


def test_9_pdf_problems_stay_off_stderr_and_encrypted_pdfs_are_named(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    letter_pdf = _text_pdf(tmp_path, HEADER + "A 40 year old male.\n" + ISSUES)
    data = letter_pdf.read_bytes()
    at = data.rindex(b"startxref")
    pointer = re.match(rb"startxref\s+(\d+)", data[at:])
    assert pointer is not None
    damaged = tmp_path / "damaged.pdf"  # the cross-reference pointer is off: pypdf warns and recovers
    wrong = str(int(pointer.group(1)) + 5).encode()
    damaged.write_bytes(data[:at] + b"startxref\n" + wrong + data[at + pointer.end():])
    locked = tmp_path / "locked.pdf"
    writer = PdfWriter(clone_from=str(letter_pdf))
    writer.encrypt("secret", algorithm="AES-128")
    with locked.open("wb") as handle:
        writer.write(handle)
    done = run_cli("extract", damaged, locked, "-o", tmp_path / "out")
    assert done.returncode == 3
    assert "locked.pdf: error: the PDF is encrypted (password protected)" in done.stderr
    assert "damaged.pdf: warning: PDF reader: incorrect startxref pointer" in done.stderr
    assert not [line for line in done.stderr.splitlines() if "startxref" in line and "damaged.pdf: warning" not in line]


def _text_pdf(tmp_path: Path, text: str) -> Path:
    """A one-page PDF holding ``text`` (rendered by WeasyPrint from a <pre> block)."""
    import weasyprint

    path = tmp_path / "letter.pdf"
    html = "<pre style='font-size:6pt'>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
    path.write_bytes(weasyprint.HTML(string=html).write_pdf())
    return path


def test_9_visits_true_and_an_item_accompanying_itself_are_refused(write_case: Callable[..., Path]) -> None:
    counted = write_case(variant("visits: 6", "visits: true"), "visits.yaml")
    done = run_cli("evaluate", counted, cwd=counted.parent)
    assert done.returncode == 3 and "visits.yaml:11: error: requested_items[0].visits: " \
        "Input should be a valid integer" in done.stderr, done.stderr
    itself = write_case(variant("visits: 6", "visits: 6\n    ancillary_to: \"1\""), "self.yaml")
    done = run_cli("evaluate", itself, cwd=itself.parent)
    assert done.returncode == 3 and "requested_items[0].ancillary_to: item '1' names itself" in done.stderr
    cycle = write_case(variant("clinical:", "  - {id: \"2\", description: assistant, service: surgical_assistant, "
                                            "regions: [lumbar], ancillary_to: \"3\"}\n  - {id: \"3\", description: "
                                            "fusion, service: surgery, regions: [lumbar], ancillary_to: \"2\"}\n"
                                            "clinical:"), "cycle.yaml")
    done = run_cli("evaluate", cycle, cwd=cycle.parent)
    assert done.returncode == 3 and done.stderr.count("accompanies it in turn") == 2, done.stderr


def test_9_a_dangling_output_folder_for_extract_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    letter = tmp_path / "l.txt"
    letter.write_text(HEADER + "A 40 year old male.\n" + ISSUES, encoding="utf-8")
    done = run_cli("extract", letter, "-o", blocker / "sub")
    assert done.returncode == 7 and "cannot create the output folder" in done.stderr
    assert stat.S_ISREG(blocker.stat().st_mode)


def test_4_parsing_keeps_no_node_alive(tmp_path: Path) -> None:
    """The shared YAML constructor forgets each value it builds: a million-case run kept every date and number
    node of every file it read (about 1.5 KB a case in each worker) before."""
    from imr_rules.common import yaml_source

    for index in range(50):
        case = tmp_path / f"case-{index}.yaml"
        case.write_text(f"a: 2016-01-{index % 28 + 1:02d}\nb: {index}\nc: [1.5, true, null, 2015-02-30]\n")
        yaml_source.load_yaml(case)
    assert yaml_source._CONSTRUCTOR.constructed_objects == {}
