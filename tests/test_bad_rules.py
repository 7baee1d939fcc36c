"""A rule base with any error is refused whole, every error located by file, line and field."""

from __future__ import annotations

from pathlib import Path

from .conftest import SEEDS, run_cli

TOPIC = Path("imaging") / "cervical_xray_acoem_2004.yaml"


def edit(rules: Path, relative: Path, old: str, new: str) -> None:
    path = rules / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def line_of(rules: Path, relative: Path, needle: str) -> int:
    return next(i for i, line in enumerate((rules / relative).read_text().splitlines(), 1) if needle in line)


def test_unknown_fact_name(rules_copy: Path) -> None:
    edit(rules_copy, TOPIC, "test: red_flag.any is present", "test: red_flag.anything is present")
    line = line_of(rules_copy, TOPIC, "red_flag.anything")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert f"cervical_xray_acoem_2004.yaml:{line}: error: criteria[0].any_of[0].test: unknown fact" in result.stderr
    assert "did you mean 'red_flag.any'?" in result.stderr


def test_unknown_operator(rules_copy: Path) -> None:
    edit(rules_copy, TOPIC, "test: surgery.planned is present", "test: surgery.planned =~ present")
    line = line_of(rules_copy, TOPIC, "=~")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert f"cervical_xray_acoem_2004.yaml:{line}: error: criteria[0].any_of[1].test: cannot read condition" \
        in result.stderr


def test_unknown_guideline_id(rules_copy: Path) -> None:
    edit(rules_copy, TOPIC, "guideline: acoem_2004_ch8", "guideline: acoem_2004_ch88")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "cervical_xray_acoem_2004.yaml:5: error: guideline: unknown guideline 'acoem_2004_ch88'" in result.stderr
    assert "did you mean 'acoem_2004_ch8'?" in result.stderr


def test_unknown_value_and_wrong_kind(rules_copy: Path) -> None:
    edit(rules_copy, Path("shared") / "postsurgical_period.yaml", "surgery.procedure == knee_meniscectomy",
         "surgery.procedure == knee_menisectomy")
    edit(rules_copy, TOPIC, "test: surgery.planned is present", "test: surgery.planned > 3")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "'knee_menisectomy' is not a value of 'surgery.procedure'" in result.stderr
    assert "did you mean 'knee_meniscectomy'?" in result.stderr
    assert "'surgery.planned' is a finding; '>' needs a number" in result.stderr


def test_unknown_field_in_rule_file(rules_copy: Path) -> None:
    edit(rules_copy, TOPIC, "applies_to:", "aplies_to:")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "unknown field 'aplies_to'" in result.stderr and "did you mean 'applies_to'?" in result.stderr


def test_errors_in_several_files_are_all_reported(rules_copy: Path) -> None:
    edit(rules_copy, TOPIC, "guideline: acoem_2004_ch8", "guideline: nope")
    edit(rules_copy, Path("physical_medicine") / "chronic_pm_2009.yaml", "pm.total_visits <= pm.visit_allowance",
         "pm.total_visit <= pm.visit_allowance")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "cervical_xray_acoem_2004.yaml" in result.stderr and "chronic_pm_2009.yaml" in result.stderr


def test_a_bad_rule_base_is_never_evaluated(rules_copy: Path) -> None:
    edit(rules_copy, TOPIC, "guideline: acoem_2004_ch8", "guideline: nope")
    result = run_cli("evaluate", SEEDS / "seed-001-lumbar-pt.yaml", "--rules", rules_copy)
    assert result.returncode == 4
    assert result.stdout == ""
    assert "rule base not usable: 1 error(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_rule_yaml(rules_copy: Path) -> None:
    (rules_copy / "imaging" / "broken.yaml").write_text("kind: topic\nid: [unclosed\n")
    result = run_cli("validate", rules_copy)
    assert result.returncode == 4
    assert "broken.yaml:3: error" in result.stderr or "broken.yaml:2: error" in result.stderr


def test_rules_folder_missing(tmp_path: Path) -> None:
    result = run_cli("validate", tmp_path / "none")
    assert result.returncode == 4
    assert "rules folder not found" in result.stderr
