"""Command-line conventions: --version/-V, -h, shell completion, batch options refused clearly, reports
within 100 columns at a terminal, no PDF on a terminal, SARIF and JSON for regress."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading

import pytest

from imr_rules import __version__
from imr_rules.common.text import fit_width

from .conftest import ROOT, SEEDS, run_cli

SEED = SEEDS / "seed-000-cervical-fusion.yaml"


def run_in_terminal(*args: str) -> tuple[int, str, str]:
    """Run the CLI with standard output on a pseudo-terminal; (exit code, terminal output, stderr)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "imr_rules", *args], stdout=slave, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    _, err = process.communicate(timeout=180)
    reader.join(timeout=30)
    os.close(master)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"), err.decode()


def test_version_and_short_help() -> None:
    for flag in ("--version", "-V"):
        done = run_cli(flag)
        assert done.returncode == 0 and done.stdout.strip() == f"imr-rules {__version__}"
    for args in (["-h"], ["evaluate", "-h"], ["rules", "-h"], ["rules", "list", "-h"]):
        done = run_cli(*args)
        assert done.returncode == 0 and "Usage:" in done.stdout, args
    assert "--rules DIR" in " ".join(run_cli("evaluate", "-h").stdout.split())


def test_shell_completion_is_offered() -> None:
    assert "--install-completion" in run_cli("--help").stdout
    done = subprocess.run([sys.executable, "-m", "imr_rules", "--show-completion", "bash"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "complete" in done.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "pdf"])
def test_batch_refuses_a_document_format(fmt: str) -> None:
    done = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", "-", "--format", fmt], input="{}\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"--format {fmt} is for one case file" in done.stderr


def test_batch_refuses_output_file_and_accepts_json(tmp_path: object) -> None:
    line = json.dumps(json.loads(json.dumps(__import__("yaml").safe_load(SEED.read_text()), default=str)))
    refused = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", "-", "-o", "out.jsonl"], input=line,
                             capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert refused.returncode == 2 and "redirect it" in refused.stderr
    assert not (ROOT / "out.jsonl").exists()
    done = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", "-", "-f", "json"], input=line + "\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0
    assert json.loads(done.stdout.splitlines()[-1])["end_of_batch"] is True


def test_no_pdf_on_a_terminal() -> None:
    code, out, err = run_in_terminal("evaluate", str(SEED), "--format", "pdf")
    assert code == 2
    assert "%PDF" not in out
    assert "--output FILE.pdf" in err


@pytest.mark.parametrize("args", [("rules", "limits"), ("coverage", "cases/historical"), ("vocab", "services"),
                                  ("regress", "cases/seeds"), ("rules", "list")])
def test_reports_fit_100_columns_at_a_terminal(args: tuple[str, ...]) -> None:
    code, out, err = run_in_terminal(*args)
    assert code == 0, err
    widest = max(len(line) for line in out.splitlines())
    assert widest <= 100
    piped = run_cli(*args)
    assert " ".join(piped.stdout.split()) == " ".join(out.split())  # the same words, only re-wrapped


def test_fit_width_wraps_long_lines_under_their_indentation() -> None:
    text = "short\n  " + " ".join(["word"] * 40) + "\n" + "x" * 120
    fitted = fit_width(text, 40).splitlines()
    assert fitted[0] == "short"
    assert all(len(line) <= 40 for line in fitted)
    assert fitted[1].startswith("  word") and fitted[2].startswith("      word")
    assert "".join(fitted).count("x") == 120  # a word longer than the width is split, never dropped


def test_regress_sarif_lists_the_tune_disagreements() -> None:
    as_json = json.loads(run_cli("regress", "cases/historical", "-f", "json").stdout)
    sarif = json.loads(run_cli("regress", "cases/historical", "-f", "sarif").stdout)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert len(results) == len(as_json["disagreements"]) > 0
    assert {r["partialFingerprints"]["item"] for r in results} == {d["key"] for d in as_json["disagreements"]}
    assert all(d["split"] == "tune" for d in as_json["disagreements"])
    assert sarif["runs"][0]["properties"]["check_disagreements_hidden"] == as_json["check_disagreements_hidden"]
