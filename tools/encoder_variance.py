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
from imr_rules.regression.runner import ItemOutcome, Metrics, compute_metrics, outcomes

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Pair:
    """One item decided from both encodings (each outcome carries the reviewer's decision)."""

    reference: ItemOutcome
    second: ItemOutcome


def pairs(second_dir: Path, reference_dir: Path, rules: Path) -> list[Pair]:
    """Every item of every second encoding, paired with the hand-made case's item of the same id."""
    engine = evaluator(rules)
    found: list[Pair] = []
    for path in sorted(second_dir.glob("*.yaml")):
        reference = {row.item_id: row for row in outcomes(read_case(reference_dir / path.name), engine)}
        found += [Pair(reference[row.item_id], row) for row in outcomes(read_case(path), engine)
                  if row.item_id in reference and row.recorded_decision is not None]
    return found


def figures(found: list[Pair], second: bool) -> Metrics:
    """The regression figures of the second (or the reference) encoding."""
    return compute_metrics(p.second if second else p.reference for p in found)


def line(name: str, metrics: Metrics) -> str:
    """One printable line: agreement and Overturned items found."""
    found = metrics.binary.tp
    return (f"{name:<22} agreement {metrics.agree}/{metrics.items} ({metrics.agreement:.1%}), "
            f"Overturned found {found}/{metrics.overturned_total}")


def main() -> None:
    """Print both encodings' figures and the items they decide differently."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--second", type=Path, default=ROOT / "cases" / "encoder_variance")
    parser.add_argument("--reference", type=Path, default=ROOT / "cases" / "historical")
    parser.add_argument("--rules", type=Path, default=default_rules_dir())
    args = parser.parse_args()
    found = pairs(args.second, args.reference, args.rules)
    print(line("hand-made encoding", figures(found, second=False)))
    print(line("blind second encoding", figures(found, second=True)))
    differing = [p for p in found if p.reference.decision != p.second.decision]
    print(f"items decided differently: {len(differing)} of {len(found)}")
    for p in differing:
        ref, sec = p.reference, p.second
        print(f"  {sec.key:<16} recorded {sec.recorded_decision:<10} hand-made {ref.decision} ({ref.rule}, "
              f"{ref.basis}); blind {sec.decision} ({sec.rule}, {sec.basis})")


if __name__ == "__main__":
    main()
