"""The rule catalogue: every topic rule with its edition, citation, period and example count."""

from __future__ import annotations

from imr_rules.authoring.examples import example_paths
from imr_rules.rulebase.model import RuleBase


def render_catalogue(rule_base: RuleBase, markdown: bool) -> str:
    """The rule catalogue as an aligned text table or a Markdown table."""
    header = ("rule", "topic", "guideline", "in force", "citation", "services", "examples")
    rows = []
    for topic in sorted(rule_base.topics, key=lambda t: (t.topic, t.guideline.effective_from, t.id)):
        guideline = topic.guideline
        period = f"{guideline.effective_from} to {guideline.effective_to or 'open'}"
        cited = f"pp. {topic.citation.pages}" if topic.citation.pages else (topic.citation.section or "")
        rows.append((topic.id, topic.topic, f"{guideline.id} ({guideline.source})", period, cited,
                     ", ".join(topic.services), str(len(example_paths(topic)))))
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    return "\n".join(lines) + f"\n\n{len(rows)} topic rules, rule base {rule_base.version}\n"
