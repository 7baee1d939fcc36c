"""``imr-rules rules stats``: how often each rule and criterion decided a historical item, and how often
the reviewer's recorded decision agreed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from imr_rules.regression.runner import ItemOutcome
from imr_rules.review.track_record import Tally, TrackRecord


def track_record(rows: Iterable[ItemOutcome], rule_base_version: str, corpus: Iterable[str],
                 measured: dt.date) -> TrackRecord:
    """Tally every decided item with a recorded decision under its rule and its deciding criteria."""
    rules: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    criteria: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.rule is None or row.recorded_decision is None or not row.addressed:
            continue
        for tally in (rules[row.rule], *(criteria[key] for key in row.deciding_keys)):
            tally[0] += 1
            tally[1] += row.agrees
    return TrackRecord(measured.isoformat(), rule_base_version, tuple(corpus),
                       {k: Tally(*v) for k, v in rules.items()}, {k: Tally(*v) for k, v in criteria.items()})


def render_stats(record: TrackRecord) -> str:
    """The track record as text: one line per rule, its deciding criteria indented under it."""
    lines = [f"Track record measured {record.measured} with rule base {record.rule_base_version} on "
             f"{', '.join(record.corpus)}", "", f"{'rule / criterion':<58}{'decided':>8}{'agreed':>8}{'share':>8}"]
    for rule, tally in sorted(record.rules.items(), key=lambda kv: (-kv[1].decided, kv[0])):
        lines.append(_line(rule, tally, 0))
        for key, criterion in sorted(record.criteria.items()):
            if key.startswith(f"{rule}/"):
                lines.append(_line(key, criterion, 2))
    return "\n".join(lines) + "\n"


def _line(name: str, tally: Tally, indent: int) -> str:
    share = f"{tally.agreed / tally.decided:.0%}" if tally.decided else "-"
    return f"{' ' * indent}{name:<{58 - indent}}{tally.decided:>8}{tally.agreed:>8}{share:>8}"
