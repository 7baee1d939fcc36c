"""The rule catalogue: every topic rule with its edition, citation, period, criteria and example count."""

from __future__ import annotations

from imr_rules.authoring.examples import example_paths
from imr_rules.rulebase.model import Criterion, RuleBase, Topic

HEADER = ("rule", "topic", "guideline", "in force", "citation", "services", "criteria", "practice", "examples")


def sourced_criteria(topic: Topic) -> list[tuple[Criterion, tuple[str, ...]]]:
    """Every criterion of ``topic`` (parents first) with its sources: its own, else its group's."""
    found: list[tuple[Criterion, tuple[str, ...]]] = []

    def visit(criterion: Criterion, inherited: tuple[str, ...]) -> None:
        sources = criterion.sources or inherited
        found.append((criterion, sources))
        for child in criterion.children:
            visit(child, sources)

    for criterion in topic.criteria:
        visit(criterion, ())
    return found


def _counts(rule_base: RuleBase) -> tuple[int, int, int]:
    leaves = [(c, s) for t in rule_base.topics for c, s in sourced_criteria(t) if c.mode == "test"]
    practice = [c for t in rule_base.topics for c, _ in sourced_criteria(t) if c.basis == "reviewer_practice"]
    return len(leaves), len(practice), sum(1 for _, sources in leaves if not sources)


def _rows(rule_base: RuleBase) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for topic in sorted(rule_base.topics, key=lambda t: (t.topic, t.guideline.effective_from, t.id)):
        guideline = topic.guideline
        period = f"{guideline.effective_from} to {guideline.effective_to or 'open'}"
        cited = f"pp. {topic.citation.pages}" if topic.citation.pages else (topic.citation.section or "")
        every = sourced_criteria(topic)
        practice = sum(1 for c, _ in every if c.basis == "reviewer_practice")
        rows.append((topic.id, topic.topic, f"{guideline.id} ({guideline.source})", period, cited,
                     ", ".join(topic.services), str(sum(1 for c, _ in every if c.mode == "test")), str(practice),
                     str(len(example_paths(topic)))))
    return rows


def render_catalogue(rule_base: RuleBase, markdown: bool) -> str:
    """The rule catalogue as an aligned text table or a Markdown table, with the criteria counts."""
    rows = _rows(rule_base)
    leaves, practice, unsourced = _counts(rule_base)
    licensed = sum(1 for t in rule_base.topics if t.needs_licensed is not None)
    summary = (f"{len(rows)} topic rules ({licensed} needing the licensed guideline text), {leaves} "
               f"criteria ({practice} marked basis: reviewer_practice, "
               f"{unsourced} without sources), rule base {rule_base.version}")
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + f"\n\n{summary}\n"
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [HEADER, *rows]]
    return "\n".join(lines) + f"\n\n{summary}\n"


def render_criteria(rule_base: RuleBase, markdown: bool) -> str:
    """Every criterion of every topic with its sources and basis (reviewer practice with its reason)."""
    lines: list[str] = []
    for topic in sorted(rule_base.topics, key=lambda t: (t.topic, t.guideline.effective_from, t.id)):
        lines.append(f"## {topic.id}: {topic.title}" if markdown else f"{topic.id}: {topic.title}")
        if not topic.recommended:
            lines.append("  - not recommended by the guideline: no criteria (always Upheld)")
        if topic.needs_licensed is not None:
            need = topic.needs_licensed
            lines.append(f"  - needs the licensed guideline text: no criteria (missing: {need.missing.strip()}; "
                         f"{need.reference})")
        for criterion, sources in sourced_criteria(topic):
            depth = _depth(topic, criterion)
            marker = "" if criterion.basis == "guideline" else f" [reviewer practice: {criterion.reason}]"
            where = "; ".join(sources) if sources else "NO SOURCES"
            lines.append(f"{'  ' * (depth + 1)}- {criterion.id}: {criterion.label} ({where}){marker}")
        lines.append("")
    leaves, practice, unsourced = _counts(rule_base)
    lines.append(f"{leaves} criteria; {practice} marked basis: reviewer_practice; {unsourced} without sources")
    return "\n".join(lines) + "\n"


def _depth(topic: Topic, target: Criterion) -> int:
    def find(nodes: list[Criterion], depth: int) -> int | None:
        for node in nodes:
            if node is target:
                return depth
            below = find(node.children, depth + 1)
            if below is not None:
                return below
        return None

    return find(topic.criteria, 0) or 0
