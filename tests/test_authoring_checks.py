"""Authoring checks: rules that can never fire, facts no rule concludes, conflicting rules; warnings
are separate from errors and both carry file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from imr_rules.rulebase.conditions import parse_condition
from imr_rules.rulebase.lint import contradiction

from .conftest import run_cli

RED_FLAGS = Path("shared") / "red_flags.yaml"
CHRONIC = Path("physical_medicine") / "chronic_pm_2009.yaml"
XRAY = Path("imaging") / "cervical_xray_acoem_2004.yaml"


def append(rules: Path, relative: Path, text: str) -> int:
    path = rules / relative
    before = path.read_text()
    path.write_text(before + text)
    return before.count("\n") + 1


def replace(rules: Path, relative: Path, old: str, new: str) -> None:
    path = rules / relative
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize(("conditions", "impossible"), [
    (["a.b > 10", "a.b < 5"], True),
    (["a.b >= 5", "a.b <= 5"], False),
    (["a.b == 3", "a.b > 3"], True),
    (["a.b is present", "a.b is absent"], True),
    (["a.b is not documented", "a.b > 1"], True),
    (["a.b in [x, y]", "a.b == z"], True),
    (["a.b in [x, y]", "a.b != x"], False),
    (["a.b in [x, y]", "a.b not in [x, y]"], True),
    (["a.b contains crps", "a.b lacks crps"], True),
    (["a.b contains crps", "a.b lacks other"], False),
])
def test_contradiction(conditions: list[str], impossible: bool) -> None:
    assert (contradiction([parse_condition(c) for c in conditions]) is not None) is impossible


def test_a_derivation_that_can_never_fire_is_an_error(rules_copy: Path) -> None:
    line = append(rules_copy, RED_FLAGS, "  - id: RF-NEVER\n    when: [red_flag.myelopathy is present, "
                                         "red_flag.myelopathy is absent]\n    conclude: {red_flag.any: present}\n")
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 4
    assert f"red_flags.yaml:{line}: error: when: rule RF-NEVER can never fire: 'red_flag.myelopathy' cannot be " \
        "both present and absent" in result.stderr


def test_a_fact_no_rule_concludes_is_an_error(rules_copy: Path) -> None:
    replace(rules_copy, RED_FLAGS, "derived_facts:\n", "derived_facts:\n  red_flag.never:\n    kind: finding\n"
                                                       "    description: never concluded\n")
    replace(rules_copy, XRAY, "test: surgery.planned is present", "test: red_flag.never is present")
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 4
    line = next(i for i, text in enumerate((rules_copy / XRAY).read_text().splitlines(), 1)
                if "id: procedure_planned" in text)
    assert f"cervical_xray_acoem_2004.yaml:{line}: error: red_flag.never: no rule concludes 'red_flag.never'" \
        in result.stderr


def test_two_topic_rules_deciding_the_same_items_conflict(rules_copy: Path) -> None:
    text = (rules_copy / CHRONIC).read_text().replace("id: CPMTG09-PM", "id: CPMTG09-PM-BIS")
    text = text.replace("CPMTG09-PM-ALLOW", "CPMTG09-BIS-ALLOW")
    (rules_copy / CHRONIC).with_name("chronic_pm_2009_bis.yaml").write_text(text)
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 4
    assert "chronic_pm_2009_bis.yaml:2: error: applies_to: rule CPMTG09-PM-BIS has the same topic, edition and " \
        "conditions as CPMTG09-PM" in result.stderr


def test_derivations_disagreeing_on_the_same_conditions_conflict(rules_copy: Path) -> None:
    replace(rules_copy, CHRONIC, "  - {id: CPMTG09-PM-ALLOW-OTHER",
            "  - {id: CPMTG09-PM-ALLOW-CRPS2, when: [diagnosis.categories contains crps], "
            "conclude: {pm.visit_allowance: 30}}\n  - {id: CPMTG09-PM-ALLOW-OTHER")
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 4
    assert "rule CPMTG09-PM-ALLOW-CRPS2 concludes pm.visit_allowance = 30 on the same conditions where " \
        "CPMTG09-PM-ALLOW-CRPS concludes 24" in result.stderr


def test_an_unused_derived_fact_is_a_warning_not_an_error(rules_copy: Path) -> None:
    replace(rules_copy, RED_FLAGS, "derived_facts:\n", "derived_facts:\n  red_flag.unused:\n    kind: finding\n"
                                                       "    description: nobody reads this\n")
    result = run_cli("validate", "--no-examples", rules_copy)
    assert result.returncode == 0, result.stderr
    assert "SHARED-RED-FLAGS: warning: red_flag.unused: derived fact 'red_flag.unused' is declared but never used" \
        in result.stderr
