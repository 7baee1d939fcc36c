"""The track record of each rule on historical determinations, as ``imr-rules explain`` shows it.

``rules/track_record.json`` is written by ``imr-rules rules stats --write`` (stage ``regression``); this
module only reads it and words it. A record measured with another rule base is still shown, with the
rule base and date it was measured with, so that a reader can judge it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACK_RECORD_FILE = "track_record.json"
TRACK_RECORD_VERSION = 1


@dataclass(frozen=True)
class Tally:
    """How often a rule or criterion decided a historical item, and how often the reviewer agreed."""

    decided: int = 0
    agreed: int = 0

    def words(self) -> str:
        """``decided 41 historical items; reviewers agreed on 39``."""
        noun = "item" if self.decided == 1 else "items"
        return f"decided {self.decided} historical {noun}; reviewers agreed on {self.agreed}"


@dataclass(frozen=True)
class TrackRecord:
    """Per rule and per criterion tallies, with when and against which rule base they were measured."""

    measured: str
    rule_base_version: str
    corpus: tuple[str, ...]
    rules: dict[str, Tally] = field(default_factory=dict)
    criteria: dict[str, Tally] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``rules/track_record.json``."""
        return {"track_record_version": TRACK_RECORD_VERSION, "measured": self.measured,
                "rule_base_version": self.rule_base_version, "corpus": list(self.corpus),
                "rules": {key: vars(t) for key, t in sorted(self.rules.items())},
                "criteria": {key: vars(t) for key, t in sorted(self.criteria.items())}}

    @staticmethod
    def from_json(data: dict[str, Any]) -> TrackRecord:
        """Read the JSON form back."""
        return TrackRecord(str(data["measured"]), str(data["rule_base_version"]), tuple(data.get("corpus", [])),
                           {k: Tally(**v) for k, v in data.get("rules", {}).items()},
                           {k: Tally(**v) for k, v in data.get("criteria", {}).items()})


def load_track_record(rules_dir: Path) -> TrackRecord | None:
    """The track record beside a rule base, or None when there is none (or it cannot be read)."""
    path = rules_dir / TRACK_RECORD_FILE
    try:
        return TrackRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_lines(record: TrackRecord | None, rule: str | None, deciding: list[str],
                 current_version: str) -> list[str]:
    """The lines ``explain`` prints under an item: the deciding rule's record and its deciding criteria's."""
    if record is None or rule is None:
        return []
    stale = "" if record.rule_base_version == current_version else ", an earlier rule base"
    when = f"(measured {record.measured} with rule base {record.rule_base_version}{stale})"
    tally = record.rules.get(rule)
    if tally is None:
        return [f"  Track record: {rule} decided no historical item {when}"]
    lines = [f"  Track record: {rule} {tally.words()} {when}"]
    for key in deciding:
        criterion = record.criteria.get(key)
        if criterion is not None:
            lines.append(f"    {key}: {criterion.words()}")
    return lines
