"""Authoring checks: every topic ships example cases for each outcome, and they come out as expected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imr_rules.cases.model import Case
from imr_rules.cases.reader import read_case
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.engine.evaluator import Evaluator
from imr_rules.rulebase.model import RuleBase, Topic

REQUIRED_OUTCOMES: dict[tuple[str, str | None], str] = {
    ("Overturned", "met"): "an Overturned example",
    ("Upheld", "not_met"): "an Upheld example (criteria not met)",
    ("Upheld", "not_documented"): "an Upheld example for missing documentation",
}


def required_outcomes(topic: Topic) -> dict[tuple[str, str | None], str]:
    """The outcomes a topic's examples must show: all three; Upheld if not recommended; needs-licensed."""
    if topic.needs_licensed is not None:
        return {("Needs licensed guideline", None): "the 'Needs licensed guideline' outcome"}
    if not topic.recommended:
        return {("Upheld", "not_met"): "an Upheld example"}
    return dict(REQUIRED_OUTCOMES)


@dataclass(frozen=True)
class Example:
    """An example case of a topic and the path it was read from."""

    topic: Topic
    path: Path
    case: Case


def example_paths(topic: Topic) -> list[Path]:
    """The example case files beside a topic's rule file."""
    folder = topic.examples_dir
    return sorted(folder.glob("*.y*ml")) if folder.is_dir() else []


def load_examples(rule_base: RuleBase) -> tuple[list[Example], list[Diagnostic]]:
    """Read every topic's examples; report topics lacking any required outcome."""
    examples: list[Example] = []
    problems: list[Diagnostic] = []
    for topic in rule_base.topics:
        covered: set[tuple[str, str | None]] = set()
        for path in example_paths(topic):
            try:
                case = read_case(path, vocabulary=rule_base.vocabulary)
            except InputError as exc:
                problems.extend(exc.diagnostics)
                continue
            if not case.expect:
                problems.append(Diagnostic(display_path(path), 1, "expect", "example case has no 'expect' block",
                                           "say which item must come out how: item, decision, basis, rule"))
                continue
            examples.append(Example(topic, path, case))
            covered |= {(e.decision, e.basis) for e in case.expect if e.rule in (None, topic.id)}
        required = required_outcomes(topic)
        for outcome, wording in required.items():
            if outcome not in covered:
                problems.append(Diagnostic(topic.where.file, topic.where.line, "examples",
                                           f"rule {topic.id} has no example case for {wording}",
                                           "add a case with a matching 'expect' to "
                                           f"{display_path(topic.examples_dir)}/"))
    return examples, problems


def check_example(example: Example, evaluator: Evaluator) -> list[Diagnostic]:
    """Evaluate an example and report every expectation it does not meet."""
    result = evaluator.evaluate(example.case)
    by_id = {item.item_id: item for item in result.items}
    problems = []
    for expected in example.case.expect or []:
        got = by_id[expected.item]
        wrong = []
        if got.decision != expected.decision:
            wrong.append(f"decision {got.decision} (expected {expected.decision})")
        if expected.basis and got.basis != expected.basis:
            wrong.append(f"basis {got.basis} (expected {expected.basis})")
        if expected.rule and got.rule != expected.rule:
            wrong.append(f"rule {got.rule} (expected {expected.rule})")
        if wrong:
            problems.append(Diagnostic(display_path(example.path), None, f"expect item {expected.item}",
                                       "came out with " + "; ".join(wrong),
                                       "run 'imr-rules evaluate' on the file to see the criteria"))
    return problems
