"""Encoding hints: free-text facts that name a finding the rules read are pointed out, never read."""

from __future__ import annotations

from pathlib import Path

import yaml

from imr_rules.cases.hints import concept_matches, file_hints
from imr_rules.cases.reader import read_case
from imr_rules.cases.vocabulary import vocabulary_of
from imr_rules.engine.knowledge_base import evaluator
from tests.conftest import SEEDS, load, run_cli


def _seed_with(tmp_path: Path, unmapped: list[str]) -> Path:
    data = load(SEEDS / "seed-001-lumbar-pt.yaml")
    data["clinical"]["unmapped_facts"] = unmapped
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_named_finding_is_offered_with_its_line(tmp_path: Path) -> None:
    path = _seed_with(tmp_path, ["walks with a cane", "positive McMurray test on the right"])
    hints = file_hints(path)
    assert [h.field for h in hints] == ["clinical.unmapped_facts[1]"]
    assert hints[0].severity == "warning"
    assert "mcmurray" in hints[0].message.lower()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert hints[0].line is not None and "McMurray" in lines[hints[0].line - 1]
    assert "status: present" in hints[0].hint


def test_a_negated_mention_is_offered_as_absent() -> None:
    vocabulary = vocabulary_of()
    matches = concept_matches("patient denies numbness in either leg", vocabulary)
    assert matches and all(m.negated for m in matches)
    assert not any(m.negated for m in concept_matches("numbness in the left leg", vocabulary))


def test_overlapping_names_count_once_by_the_longest() -> None:
    found = [m.concept for m in concept_matches("positive straight leg raise at 40 degrees", vocabulary_of())]
    assert found.count("straight_leg_raise") == 1


def test_hints_never_change_the_decision(tmp_path: Path) -> None:
    plain = _seed_with(tmp_path, [])
    engine = evaluator()
    before = [i.decision for i in engine.evaluate(read_case(plain)).items]
    hinted = _seed_with(tmp_path, ["positive McMurray test on the right", "decreased sensation in the L5 dermatome"])
    assert file_hints(hinted)
    assert [i.decision for i in engine.evaluate(read_case(hinted)).items] == before


def test_validate_prints_hints_as_warnings_and_passes(tmp_path: Path) -> None:
    path = _seed_with(tmp_path, ["positive McMurray test on the right"])
    done = run_cli("validate", "--no-examples", Path(__file__).resolve().parents[1] / "rules", path)
    assert done.returncode == 0, done.stderr
    assert "warning: clinical.unmapped_facts[0]" in done.stderr
    assert "1 case(s) valid" in done.stdout
