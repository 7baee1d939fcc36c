"""Snapshots of the compiled rule base catch unintended compiler changes.

``tests/snapshots/compiled/`` holds, per rule file, the durable_rules JSON of every rule compiled from it
and the action each rule runs, and in ``rulesets.json`` the periods and each ruleset's topics, shared
derivations, base facts, rule count and routes. Any change to the compiler or to a rule file changes them.
After an intended change, rewrite them and review the diff:

    IMR_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_compiled_snapshots.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from imr_rules.engine.knowledge_base import load_rule_base
from imr_rules.rulebase.compiler import compile_rule_base, fragment_key, snapshot
from imr_rules.rulebase.model import RuleBase

from .conftest import ROOT, RULES

SNAPSHOTS = ROOT / "tests" / "snapshots" / "compiled"
UPDATE = "IMR_UPDATE_SNAPSHOTS"


def _rule_file(rule_base: RuleBase, file: str) -> str:
    return Path(file).resolve().relative_to(rule_base.root.resolve()).with_suffix(".json").as_posix()


def expected_files() -> dict[str, Any]:
    """The snapshot files the current compiler writes for the shipped rules: relative path -> data."""
    rule_base, _ = load_rule_base(RULES)
    data = snapshot(compile_rule_base(rule_base))
    files: dict[str, Any] = {"rulesets.json": {"periods": data["periods"], "rulesets": data["rulesets"]}}
    origins = {fragment_key(d): d.where.file for d in rule_base.derivations}
    origins.update({fragment_key(t): t.where.file for t in rule_base.topics})
    for key, rules in data["fragments"].items():
        files.setdefault(_rule_file(rule_base, origins[key]), {})[key] = rules
    return files


def _line(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _text(name: str, data: Any) -> str:
    """Stable JSON: ``rulesets.json`` indented; a rule file's fragments with one compiled rule per line."""
    if name == "rulesets.json":
        return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    blocks = [f" {_line(key)}: [\n" + ",\n".join(f"  {_line(rule)}" for rule in rules) + "\n ]"
              for key, rules in sorted(data.items())]
    return "{\n" + ",\n".join(blocks) + "\n}\n"


def test_the_compiled_rulesets_match_their_snapshots() -> None:
    expected = {name: _text(name, data) for name, data in expected_files().items()}
    if os.environ.get(UPDATE):
        for stale in SNAPSHOTS.rglob("*.json"):
            stale.unlink()
        for name, text in expected.items():
            (SNAPSHOTS / name).parent.mkdir(parents=True, exist_ok=True)
            (SNAPSHOTS / name).write_text(text, encoding="utf-8")
    found = {p.relative_to(SNAPSHOTS).as_posix(): p.read_text(encoding="utf-8") for p in SNAPSHOTS.rglob("*.json")}
    changed = sorted(name for name in expected if found.get(name) != expected[name])
    stale = sorted(set(found) - set(expected))
    assert (changed, stale) == ([], []), (
        f"compiled output differs from tests/snapshots/compiled/ in {changed}, stale {stale}; if intended, run "
        f"{UPDATE}=1 .venv/bin/python -m pytest tests/test_compiled_snapshots.py and review the diff")


def test_snapshot_files_are_json_and_stable_across_compilations() -> None:
    files = expected_files()
    first = {name: _text(name, data) for name, data in files.items()}
    assert first == {name: _text(name, data) for name, data in expected_files().items()}
    assert all(json.loads(text) == json.loads(json.dumps(files[name])) for name, text in first.items())
