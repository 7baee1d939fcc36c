"""A generated request corpus: one bare request per vocabulary service (medication services are the drug
classes), dated in each MTUS period, and what the rule base answers for each.

``python -m tools.request_corpus`` prints, per period, how many requests are decided, need the licensed
guideline text, or are "Not addressed" (with the reason the engine names). tests/test_request_corpus.py
asserts that no request is "Not addressed" without a named reason.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from imr_rules.cases.model import Case
from imr_rules.engine.evaluator import Evaluator
from imr_rules.engine.knowledge_base import evaluator
from imr_rules.engine.results import ItemResult

PERIODS = {  # one request date inside each MTUS period
    "2010 (CPMTG 2009, ACOEM 2004)": dt.date(2010, 6, 1),
    "2015 (same, ODG search sequence from 4/20/2015)": dt.date(2015, 6, 1),
    "2017 (CPMTG 2016, Opioids 2016)": dt.date(2017, 6, 1),
    "2019 (ACOEM-based MTUS, first orders)": dt.date(2019, 6, 3),
    "2026 (ACOEM-based MTUS today)": dt.date(2026, 3, 2),
}
REGION_BY_GROUP = {"behavioral": "systemic", "level_of_care": "multiple", "support": "multiple"}


@dataclass(frozen=True)
class CorpusRequest:
    """One generated request and what the rule base answered."""

    period: str
    service: str
    region: str
    item: ItemResult


def bare_case(service: str, region: str, on: dt.date) -> Case:
    """A request of ``service`` for ``region`` on ``on``: an injury 200 days before, nothing documented."""
    return Case.model_validate({
        "schema": 2, "case_id": f"GEN-{service}-{on.isoformat()}",
        "claim": {"injury_date": (on - dt.timedelta(days=200)).isoformat()},
        "patient": {"age": 45, "sex": "female"},
        "diagnoses": [{"description": "work injury", "category": "other", "region": region}],
        "request_date": on.isoformat(),
        "requested_items": [{"id": "1", "description": service.replace("_", " "), "service": service,
                             "regions": [region]}]})


def requests(engine: Evaluator) -> Iterator[CorpusRequest]:
    """Every service of the vocabulary (but 'other') in every period, evaluated."""
    vocabulary = engine.knowledge_base.rule_base.vocabulary
    for service in vocabulary.ids("services"):
        if service == "other":
            continue
        group = vocabulary.term("services", service).group or ""
        region = REGION_BY_GROUP.get(group, "lumbar")
        for period, on in PERIODS.items():
            item = engine.evaluate(bare_case(service, region, on)).items[0]
            yield CorpusRequest(period, service, region, item)


def named(item: ItemResult) -> bool:
    """Whether an item is answered: decided, needing the licensed text, or not addressed for a named reason."""
    if item.decision != "Not addressed":
        return item.citation is not None and item.rule is not None
    return item.not_addressed is not None


def outcome_of(item: ItemResult) -> str:
    """decided, licensed, or not addressed (and why: no rule at all, or none in force on the date)."""
    if item.decision in ("Upheld", "Overturned"):
        return "decided"
    if item.decision == "Needs licensed guideline":
        return "licensed"
    reason = item.not_addressed
    return "no rule at all" if reason is None or reason.kind == "no_rule" else "no rule in force"


def report(rows: list[CorpusRequest]) -> str:
    """Counts per period, then the services no rule addresses, per period."""
    kinds = ("decided", "licensed", "no rule in force", "no rule at all")
    lines = [f"{'period':<50}{'requests':>9}" + "".join(f"{k:>18}" for k in kinds)]
    for period in PERIODS:
        counts = Counter(outcome_of(r.item) for r in rows if r.period == period)
        total = sum(counts.values())
        lines.append(f"{period:<50}{total:>9}" + "".join(f"{counts[k]:>18}" for k in kinds))
    lines.append("")
    for period in PERIODS:
        missing = sorted(r.service for r in rows if r.period == period and outcome_of(r.item).startswith("no rule"))
        lines.append(f"not addressed, {period}: {', '.join(missing) or 'none'}")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Print the corpus report for the shipped rule base."""
    rows = list(requests(evaluator()))
    sys.stdout.write(report(rows))
    return 0 if all(named(r.item) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
