"""Catalogue coverage: which sections of the guidelines the MTUS has held have a rule, which need the licensed
text, and which have none (``rules/guideline_catalogue.yaml``, ``imr-rules coverage --catalogue``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imr_rules.common.diagnostics import Diagnostic, InputError
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import load_yaml
from imr_rules.rulebase.loader import CATALOGUE_FILE
from imr_rules.rulebase.model import RuleBase, Topic

Status = Literal["rule", "licensed", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogueEntry(_Strict):
    """One section, table row or topic of a guideline."""

    id: str
    label: str = Field(description="A short label of our own (never the guideline's wording).")
    pages: str | None = None
    section: str | None = None
    services: list[str] = Field(default_factory=list, description="Request types the section decides.")
    regions: list[str] = Field(default_factory=list, description="Body regions, when the section is for some.")
    rules: list[str] = Field(default_factory=list, description="Rule ids (topic, derivation, TOPIC/criterion) "
                                                               "that encode it; used instead of services.")
    words: list[str] = Field(default_factory=list, description="Covered by a topic of the group's guidelines "
                                                               "whose id or topic holds one of these words.")


class CatalogueGroup(_Strict):
    """The sections of one guideline (or of a family of editions)."""

    id: str
    label: str
    guidelines: list[str] = Field(min_length=1)
    entries: list[CatalogueEntry] = Field(min_length=1)


class GuidelineCatalogue(_Strict):
    """The catalogue file."""

    kind: Literal["guideline_catalogue"]
    groups: list[CatalogueGroup] = Field(min_length=1)


@dataclass(frozen=True)
class EntryCoverage:
    """An entry and how the rule base covers it, with the rules that do."""

    group: CatalogueGroup
    entry: CatalogueEntry
    status: Status
    rules: tuple[str, ...]


def load_catalogue(rules_dir: Path) -> GuidelineCatalogue:
    """Read the catalogue of a rules folder; ``InputError`` locating every problem."""
    document = load_yaml(rules_dir / CATALOGUE_FILE)
    try:
        return GuidelineCatalogue.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(translate(exc, document, GuidelineCatalogue)) from None


def check_catalogue(catalogue: GuidelineCatalogue, rule_base: RuleBase) -> list[Diagnostic]:
    """Guideline ids, services and regions the catalogue names that the rule base does not know."""
    problems = []
    for group in catalogue.groups:
        for name in group.guidelines:
            if name not in rule_base.guidelines:
                problems.append(Diagnostic(CATALOGUE_FILE, None, f"groups.{group.id}.guidelines",
                                           f"unknown guideline '{name}'", "add it to rules/guidelines.yaml"))
        for entry in group.entries:
            for kind, terms in (("services", entry.services), ("body_regions", entry.regions)):
                for term in terms:
                    if not rule_base.vocabulary.has(kind, term):
                        hint = rule_base.vocabulary.hint(kind, term)
                        problems.append(Diagnostic(CATALOGUE_FILE, None, f"groups.{group.id}.{entry.id}",
                                                   f"unknown {kind} term '{term}'", hint))
    return problems


def _known_ids(rule_base: RuleBase) -> set[str]:
    topics = {t.id for t in rule_base.topics} | {t.id.split(".", 1)[0] for t in rule_base.topics}
    derivations = {d.id for d in rule_base.derivations} | {d.id for t in rule_base.topics for d in t.derive}
    criteria = {c.key for t in rule_base.topics for c in t.all_criteria()}
    criteria |= {f"{t.id.split('.', 1)[0]}/{c.key.split('/', 1)[1]}"
                 for t in rule_base.topics for c in t.all_criteria()}
    return topics | derivations | criteria


def _matching_topics(group: CatalogueGroup, entry: CatalogueEntry, rule_base: RuleBase) -> list[Topic]:
    found = []
    for topic in rule_base.topics:
        if topic.guideline.id not in group.guidelines:
            continue
        if entry.words:
            text = f"{topic.id} {topic.topic}".lower()
            if any(word.lower() in text for word in entry.words):
                found.append(topic)
            continue
        if not set(entry.services) & set(topic.services):
            continue
        if entry.regions and topic.body_regions is not None and not set(entry.regions) & set(topic.body_regions):
            continue
        found.append(topic)
    return found


def entry_coverage(group: CatalogueGroup, entry: CatalogueEntry, rule_base: RuleBase,
                   known: set[str]) -> EntryCoverage:
    """How ``entry`` is covered: by the rules it names, else by the topics of its services (or words)."""
    if entry.rules:
        present = all(rule in known for rule in entry.rules)
        return EntryCoverage(group, entry, "rule" if present else "none", tuple(entry.rules) if present else ())
    topics = _matching_topics(group, entry, rule_base) if entry.services or entry.words else []
    if not topics:
        return EntryCoverage(group, entry, "none", ())
    licensed = all(t.needs_licensed is not None for t in topics)
    return EntryCoverage(group, entry, "licensed" if licensed else "rule", tuple(sorted(t.id for t in topics)))


def catalogue_coverage(catalogue: GuidelineCatalogue, rule_base: RuleBase) -> list[EntryCoverage]:
    """Every entry of the catalogue with its coverage, in catalogue order."""
    known = _known_ids(rule_base)
    return [entry_coverage(g, e, rule_base, known) for g in catalogue.groups for e in g.entries]


def _where(entry: CatalogueEntry) -> str:
    where = f"pp. {entry.pages}" if entry.pages else (entry.section or "")
    return f" ({where})" if where else ""


def _counts(rows: list[EntryCoverage]) -> str:
    rule = sum(r.status == "rule" for r in rows)
    licensed = sum(r.status == "licensed" for r in rows)
    share = rule / len(rows) if rows else 0.0
    return (f"{len(rows)} entries: {rule} with a rule ({share:.0%}), {licensed} needing the licensed text, "
            f"{len(rows) - rule - licensed} without a rule")


def render_catalogue_coverage(rows: list[EntryCoverage], measured: dt.date, rule_base_version: str,
                              show_covered: bool = False) -> str:
    """Per group: the counts and the entries without a rule (and, with ``show_covered``, the covered ones)."""
    lines = [f"Catalogue coverage measured {measured.isoformat()} with rule base {rule_base_version}", ""]
    groups: dict[str, list[EntryCoverage]] = {}
    for row in rows:
        groups.setdefault(row.group.id, []).append(row)
    for members in groups.values():
        group = members[0].group
        lines.append(f"{group.label} [{group.id}]: {_counts(members)}")
        for row in members:
            if row.status == "none":
                lines.append(f"  - no rule: {row.entry.label}{_where(row.entry)}")
            elif row.status == "licensed":
                lines.append(f"  - licensed text: {row.entry.label}{_where(row.entry)}: {', '.join(row.rules)}")
            elif show_covered:
                lines.append(f"  - rule: {row.entry.label}{_where(row.entry)}: {', '.join(row.rules)}")
        lines.append("")
    lines.append(f"TOTAL: {_counts(rows)}")
    return "\n".join(lines) + "\n"
