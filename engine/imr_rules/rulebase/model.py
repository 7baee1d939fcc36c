"""Rule file formats (pydantic) and the validated rule base the compiler works from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from imr_rules.cases.terms import RegionId, ServiceId
from imr_rules.cases.vocabulary import Vocabulary
from imr_rules.rulebase.conditions import Condition, Expression

Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")]
FactKind = Literal["finding", "number", "enum", "list", "date"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# ---- rules/guidelines.yaml -------------------------------------------------------------------------
class GuidelineSpec(_Strict):
    """One guideline edition in the registry."""

    id: Id
    title: str
    label: str = Field(description="How a determination names it, e.g. 'MTUS Postsurgical Treatment Guidelines'.")
    edition: str
    source: Literal["MTUS", "ODG", "other"]
    regulation: str | None = None
    effective_from: dt.date
    effective_to: dt.date | None = None
    cite_by: Literal["pages", "section"]
    note: str | None = Field(default=None, description="Added to the notes of every item decided under it.")


class GuidelineRegistryFile(_Strict):
    """The guideline registry file."""

    guidelines: list[GuidelineSpec] = Field(min_length=1)


# ---- rules/facts.yaml --------------------------------------------------------------------------------
ChangeKind = Literal["document", "request", "none"]
"""How a base fact can change, as what-if offers it: ``document`` (a finding, response, monitoring or goal
the treating physician can document if it is true), ``request`` (the request itself), ``none`` (history:
visits already given, dates, age, the injury, surgeries done)."""


class FactSpecModel(_Strict):
    """A fact in the catalogue (base or derived)."""

    kind: FactKind
    description: str
    ask: str | None = None
    values: list[str] | None = None
    change: ChangeKind | None = Field(default=None, description="Base facts only; missing means 'none'.")
    offer: str | None = Field(default=None, description="How what-if words the change: documenting the finding "
                              "as present, or the value offered ({value}, {now}, {fact}).")
    offer_absent: str | None = Field(default=None, description="A finding only: how what-if words documenting "
                                     "it as absent; a base finding without it is never offered as absent.")


class OfferWording(_Strict):
    """How what-if words an offer when the fact has no ``offer`` of its own (fields {fact}, {value}, {now})."""

    present: str = Field(description="Documenting a finding as present.")
    absent: str = Field(description="Documenting a vocabulary finding as absent.")
    value: str = Field(description="Documenting a number, a term or a list word.")
    request: str = Field(description="Changing the request.")


class FactCatalogueFile(_Strict):
    """The base fact catalogue file."""

    offer_wording: OfferWording | None = None
    facts: dict[str, FactSpecModel]


# ---- topic and derivation files -------------------------------------------------------------------------
class CitationSpec(_Strict):
    """Where in the guideline the rule's criteria are found."""

    section: str | None = None
    pages: str | None = None


class AppliesToSpec(_Strict):
    """Which requested items a topic decides."""

    services: list[ServiceId] = Field(min_length=1)
    body_regions: list[RegionId] | None = Field(default=None, description="Any region when left out.")
    when: list[str] = Field(default_factory=list, description="Further conditions, e.g. 'phase == chronic'.")


class CriterionTexts(_Strict):
    """Sentences for the rationale, one per criterion state; ``{fact.name}`` fills in a value."""

    met: str
    not_met: str
    not_documented: str


Basis = Literal["guideline", "reviewer_practice"]


class CriterionSpec(_Strict):
    """A criterion: one test, or a group (all_of / any_of) of criteria.

    ``sources`` names the reference sections it comes from (e.g. ``mtus-reference.md 14.6 [U-H]``); a
    group's sources cover the criteria under it. ``basis: reviewer_practice`` marks a criterion that
    follows IMR reviewer practice the guideline does not state; it needs a ``reason``.
    """

    id: Id
    label: str
    test: str | None = None
    all_of: list[CriterionSpec] | None = None
    any_of: list[CriterionSpec] | None = None
    text: CriterionTexts | None = None
    sources: list[str] = Field(default_factory=list)
    basis: Basis = "guideline"
    reason: str | None = Field(default=None, description="Why reviewer practice is followed (basis: "
                                                          "reviewer_practice only).")


class DerivationSpec(_Strict):
    """A rule that concludes intermediate facts when all its conditions hold."""

    id: Id
    when: list[str] = Field(default_factory=list)
    conclude: dict[str, Union[int, float, str]] = Field(min_length=1)
    assumes: str | None = Field(default=None, description="Assumption to report when this rule fires.")


class RationaleSpec(_Strict):
    """Rationale templates for the item's outcome (a needs-licensed topic gives ``needs_licensed`` only)."""

    overturned: str = ""
    upheld: str = ""
    not_documented: str = ""
    needs_licensed: str = Field(default="", description="Needs-licensed topics: why only the licensed text decides.")


class NeedsLicensedSpec(_Strict):
    """Only the licensed guideline text could decide: the public sources do not give its criteria."""

    missing: str = Field(description="What public source is missing, e.g. 'the MRI criteria of the section'.")
    reference: str = Field(description="Where the reference says so, e.g. 'mtus-current-reference.md 5 item 1 [C]'.")


class TopicFile(_Strict):
    """A topic rule file: the criteria of one guideline edition for one kind of request."""

    kind: Literal["topic"]
    id: Id
    title: str
    topic: Id
    guideline: Id | None = Field(default=None, description="The edition; or list them under 'editions'.")
    editions: list[Id] | None = Field(default=None, min_length=1, description="The same topic under each of "
                                      "these editions: one rule per edition, with id '<id>.<edition>'.")
    citation: CitationSpec
    applies_to: AppliesToSpec
    precedence: int = Field(default=10, ge=0, le=1000)
    sources: str | None = Field(default=None, description="Where each threshold comes from.")
    derived_facts: dict[str, FactSpecModel] = Field(default_factory=dict)
    derive: list[DerivationSpec] = Field(default_factory=list)
    recommended: bool = Field(default=True, description="False: the guideline does not recommend the service; "
                                                        "the topic has no criteria and always comes out Upheld.")
    needs_licensed: NeedsLicensedSpec | None = Field(
        default=None, description="Only the licensed guideline text decides: no criteria; the item comes out "
                                  "'Needs licensed guideline', naming the topic, edition and missing source.")
    criteria: list[CriterionSpec] = Field(default_factory=list)
    rationale: RationaleSpec


class DerivationFile(_Strict):
    """A file of shared derivation rules that many topics reuse."""

    kind: Literal["derivations"]
    id: Id
    title: str
    sources: str | None = None
    derived_facts: dict[str, FactSpecModel] = Field(default_factory=dict)
    derive: list[DerivationSpec] = Field(min_length=1)


# ---- the validated rule base ------------------------------------------------------------------------
@dataclass(frozen=True)
class Guideline:
    """A guideline edition, validated."""

    id: str
    title: str
    label: str
    edition: str
    source: str
    regulation: str | None
    effective_from: dt.date
    effective_to: dt.date | None
    cite_by: str
    note: str | None = None

    def in_force(self, on: dt.date) -> bool:
        """Whether this edition governs a request made on ``on``."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


@dataclass(frozen=True)
class FactSpec:
    """A fact a rule can read: from the case (``origin == 'case'``) or concluded by a rule file."""

    name: str
    kind: str
    description: str
    ask: str | None
    values: tuple[str, ...] | None
    origin: str
    change: str = "none"
    offer: str | None = None
    offer_absent: str | None = None
    wording: str = ""
    """The fact's words in an offer (``{fact}``): its description, or a vocabulary finding's label."""


@dataclass(frozen=True)
class Located:
    """Where a rule element was written."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Derivation:
    """A validated derivation rule. ``topic`` scopes it to one topic (None: shared)."""

    id: str
    when: list[Condition]
    conclusions: list[tuple[str, Expression]]
    assumes: str | None
    topic: str | None
    where: Located


@dataclass
class Criterion:
    """A validated criterion (``test`` for a leaf, ``children`` for a group)."""

    key: str
    id: str
    label: str
    mode: Literal["test", "all", "any"]
    test: Condition | None
    children: list[Criterion]
    texts: CriterionTexts | None
    where: Located
    sources: tuple[str, ...] = ()
    basis: str = "guideline"
    reason: str | None = None

    def leaves(self) -> list[Criterion]:
        """Every test criterion under (and including) this one."""
        if self.mode == "test":
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]

    def walk(self) -> list[Criterion]:
        """This criterion and all below it, parents first."""
        return [self, *(node for child in self.children for node in child.walk())]


@dataclass
class Topic:
    """A validated topic rule: applicability, criteria, rationale and citation."""

    id: str
    title: str
    topic: str
    guideline: Guideline
    citation: CitationSpec
    services: tuple[str, ...]
    body_regions: tuple[str, ...] | None
    when: list[Condition]
    precedence: int
    recommended: bool
    criteria: list[Criterion]
    derive: list[Derivation]
    rationale: RationaleSpec
    where: Located
    path: Path
    needs_licensed: NeedsLicensedSpec | None = None

    @property
    def examples_dir(self) -> Path:
        """The folder of example cases beside the rule file."""
        return self.path.with_suffix(".examples")

    def all_criteria(self) -> list[Criterion]:
        """Every criterion of the topic, parents first."""
        return [node for criterion in self.criteria for node in criterion.walk()]

    def citation_text(self) -> str:
        """The guideline line of a determination for this topic."""
        parts = [f"{self.guideline.label} ({self.guideline.edition})"]
        if self.citation.section:
            parts.append(f"Section: {self.citation.section}")
        if self.citation.pages:
            parts.append(f"Page(s): {self.citation.pages}")
        return ", ".join(parts)


@dataclass
class RuleBase:
    """Everything loaded from a rules folder, validated and ready to compile."""

    root: Path
    version: str
    guidelines: dict[str, Guideline]
    facts: dict[str, FactSpec]
    derivations: list[Derivation]
    topics: list[Topic]
    files: list[Path] = field(default_factory=list)
    vocabulary: Vocabulary = field(default_factory=lambda: Vocabulary({}))
    offer_wording: dict[str, str] = field(default_factory=dict)
    """``facts.yaml``'s ``offer_wording``: how what-if words an offer the fact does not word itself."""

    def derivations_of(self, fact: str) -> list[Derivation]:
        """Every derivation (shared or topic-scoped) that concludes ``fact``."""
        every = self.derivations + [d for t in self.topics for d in t.derive]
        return [d for d in every if any(name == fact for name, _ in d.conclusions)]

    def topic(self, topic_id: str) -> Topic:
        """The topic rule with this id."""
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)
