"""Encoder variance: the same letters encoded twice, by different people, decided by the same rule base.

``cases/encoder_variance`` holds second encodings of tune letters, written blind (from the letter's case
summary and the project's public docs only: no decision, no rationale, not the hand-made case), with the
recorded outcomes added afterwards. Each is evaluated beside its hand-made case in ``cases/historical``;
the tool prints both agreements with the reviewers and every item the two encodings decide differently.
A rule whose decision turns on how a fact happened to be written shows up here.

Usage: python -m tools.encoder_variance [--second DIR] [--reference DIR] [--rules DIR]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from imr_rules.cases.reader import read_case
from imr_rules.engine.knowledge_base import default_rules_dir, evaluator
from imr_rules.engine.results import ItemResult

ROOT = Path(__file__).resolve().parents[1]
DECIDED = ("Upheld", "Overturned")


@dataclass(frozen=True)
class Pair:
    """One item decided from both encodings, with the reviewer's decision."""

    key: str
    recorded: str
    reference: ItemResult
    second: ItemResult


@dataclass(frozen=True)
class Figures:
    """Agreement with the reviewers of one encoding over the decided items of both."""

    agree: int
    decided: int
    overturned_found: int
    overturned: int

    def line(self, name: str) -> str:
        """One printable line."""
        return (f"{name:<22} agreement {self.agree}/{self.decided} ({self.agree / max(self.decided, 1):.1%}), "
                f"Overturned found {self.overturned_found}/{self.overturned}")


def pairs(second_dir: Path, reference_dir: Path, rules: Path) -> list[Pair]:
    """Every item of every second encoding, paired with the hand-made case's item of the same id."""
    engine = evaluator(rules)
    found: list[Pair] = []
    for path in sorted(second_dir.glob("*.yaml")):
        second_case = read_case(path)
        reference_case = read_case(reference_dir / path.name)
        recorded = {r.item: r.decision for r in (second_case.recorded.items if second_case.recorded else [])}
        reference = {i.item_id: i for i in engine.evaluate(reference_case).items}
        for item in engine.evaluate(second_case).items:
            if item.item_id in reference and item.item_id in recorded:
                found.append(Pair(f"{second_case.case_id}/{item.item_id}", recorded[item.item_id],
                                  reference[item.item_id], item))
    return found


def figures(found: list[Pair], second: bool) -> Figures:
    """Agreement of the second (or reference) encoding, over items the reviewers decided."""
    decided = [p for p in found if p.recorded in DECIDED]
    ours = [(p.recorded, (p.second if second else p.reference).decision) for p in decided]
    return Figures(sum(r == d for r, d in ours), len(ours),
                   sum(r == d == "Overturned" for r, d in ours), sum(r == "Overturned" for r, _ in ours))


def main() -> None:
    """Print both encodings' figures and the items they decide differently."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--second", type=Path, default=ROOT / "cases" / "encoder_variance")
    parser.add_argument("--reference", type=Path, default=ROOT / "cases" / "historical")
    parser.add_argument("--rules", type=Path, default=default_rules_dir())
    args = parser.parse_args()
    found = pairs(args.second, args.reference, args.rules)
    print(figures(found, second=False).line("hand-made encoding"))
    print(figures(found, second=True).line("blind second encoding"))
    differing = [p for p in found if p.reference.decision != p.second.decision]
    print(f"items decided differently: {len(differing)} of {len(found)}")
    for p in differing:
        print(f"  {p.key:<16} recorded {p.recorded:<10} hand-made {p.reference.decision} ({p.reference.rule}, "
              f"{p.reference.basis}); blind {p.second.decision} ({p.second.rule}, {p.second.basis})")


if __name__ == "__main__":
    main()
