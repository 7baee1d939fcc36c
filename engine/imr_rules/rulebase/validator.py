"""Validate stage for rules: check every reference, condition and template; build the ``RuleBase``.

Every problem is collected with file, line, field and a hint. A rule base with any error is refused.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from imr_rules.cases.facts import FACT_NAMES, FINDING_PREFIX
from imr_rules.cases.vocabulary import SINGULAR, VOCABULARY_DIR, Vocabulary, vocabulary_files
from imr_rules.common.diagnostics import Diagnostic
from imr_rules.common.yaml_source import PathKey, SourceDocument, dotted
from imr_rules.rulebase.conditions import (
    Condition,
    ConditionSyntaxError,
    Expression,
    FactRef,
    parse_condition,
    parse_expression,
)
from imr_rules.rulebase.lint import lint
from imr_rules.rulebase.loader import LoadedRules
from imr_rules.rulebase.model import (
    Criterion,
    CriterionSpec,
    Derivation,
    DerivationFile,
    DerivationSpec,
    FactSpec,
    FactSpecModel,
    Guideline,
    Located,
    RuleBase,
    Topic,
    TopicFile,
)
from imr_rules.rulebase.templates import SPECIAL_FIELDS, template_fields

VOCABULARY_VALUES: dict[str, str] = {
    "item.service": "services",
    "item.body_region": "body_regions",
    "surgery.procedure": "procedures",
    "diagnosis.categories": "diagnosis_categories",
    "work.status": "work_statuses",
    "item.quantity_unit": "units",
    "item.formulation": "formulations",
    "item.route": "routes",
    "item.test_kind": "test_kinds",
    "item.procedure": "procedures",
    "item.device": "devices",
}
"""Base facts whose values are the terms of a vocabulary."""


def base_values(vocabulary: Vocabulary) -> dict[str, tuple[str, ...]]:
    """The allowed values of the enum and list base facts, read from the vocabulary."""
    values = {name: vocabulary.ids(kind) for name, kind in VOCABULARY_VALUES.items()}
    values["patient.sex"] = ("male", "female")
    return values


@dataclass
class _Context:
    loaded: LoadedRules
    vocabulary: Vocabulary
    diagnostics: list[Diagnostic] = field(default_factory=list)
    facts: dict[str, FactSpec] = field(default_factory=dict)

    def error(self, document: SourceDocument, path: PathKey, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(document.name, document.line_of(path), dotted(path), message, hint))

    def error_count(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity == "error")

    def nearest_fact(self, name: str) -> str:
        match = difflib.get_close_matches(name, list(self.facts), n=1, cutoff=0.6)
        return f"did you mean '{match[0]}'?" if match else "see rules/facts.yaml or a file's derived_facts"


def validate_rules(loaded: LoadedRules) -> tuple[RuleBase | None, list[Diagnostic]]:
    """Build the rule base; return it with ``None`` in its place when any error was found."""
    ctx = _Context(loaded=loaded, vocabulary=loaded.vocabulary or Vocabulary({}),
                   diagnostics=list(loaded.diagnostics))
    if loaded.registry is None or loaded.catalogue is None or loaded.vocabulary is None:
        return None, ctx.diagnostics  # every reference would fail; report the root cause only
    guidelines = _guidelines(ctx)
    _base_facts(ctx)
    _derived_facts(ctx)
    derivations: list[Derivation] = []
    topics: list[Topic] = []
    rule_ids: dict[str, str] = {}
    for parsed, document in loaded.rule_files:
        previous = rule_ids.get(parsed.id)
        if previous:
            ctx.error(document, ("id",), f"rule id '{parsed.id}' is already used in {previous}", "ids are unique")
        rule_ids.setdefault(parsed.id, document.name)
        if isinstance(parsed, DerivationFile):
            derivations.extend(_derivations(ctx, parsed.derive, document, None, ("derive",)))
        else:
            topics.extend(_topics(ctx, parsed, document, guidelines))
    errors = [d for d in ctx.diagnostics if d.severity == "error"]
    if errors or not topics:
        if not topics and not errors:
            ctx.diagnostics.append(Diagnostic(str(loaded.root), None, "", "no topic rules found",
                                              "a rules folder needs at least one file with 'kind: topic'"))
        return None, ctx.diagnostics
    files = [doc.path for _, doc in loaded.rule_files]
    wording = loaded.catalogue[0].offer_wording
    base = RuleBase(root=loaded.root, version=_version(loaded), guidelines=guidelines, facts=ctx.facts,
                    derivations=derivations, topics=topics, files=files, vocabulary=ctx.vocabulary,
                    offer_wording=wording.model_dump() if wording is not None else {})
    ctx.diagnostics.extend(lint(base))
    if any(d.severity == "error" for d in ctx.diagnostics):
        return None, ctx.diagnostics
    return base, ctx.diagnostics


def _version(loaded: LoadedRules) -> str:
    digest = hashlib.sha256()
    paths = [doc.path for _, doc in loaded.rule_files]
    paths += vocabulary_files(loaded.root / VOCABULARY_DIR)
    for extra in (loaded.registry, loaded.catalogue):
        if extra is not None:
            paths.append(extra[1].path)
    for path in sorted(paths):
        digest.update(path.relative_to(loaded.root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _guidelines(ctx: _Context) -> dict[str, Guideline]:
    result: dict[str, Guideline] = {}
    if ctx.loaded.registry is None:
        return result
    registry, document = ctx.loaded.registry
    for index, spec in enumerate(registry.guidelines):
        if spec.id in result:
            ctx.error(document, ("guidelines", index, "id"), f"guideline id '{spec.id}' is listed twice")
        if spec.effective_to is not None and spec.effective_to < spec.effective_from:
            ctx.error(document, ("guidelines", index, "effective_to"), "effective_to is before effective_from")
        result[spec.id] = Guideline(spec.id, spec.title, spec.label, spec.edition, spec.source, spec.regulation,
                                    spec.effective_from, spec.effective_to, spec.cite_by, spec.note)
    return result


def _base_facts(ctx: _Context) -> None:
    if ctx.loaded.catalogue is None:
        return
    catalogue, document = ctx.loaded.catalogue
    for name, spec in catalogue.facts.items():
        if name not in FACT_NAMES:
            hint = ("finding facts come from rules/vocabulary/concepts; do not list them here"
                    if name.startswith(FINDING_PREFIX) else "every catalogue fact needs a projection in "
                    "imr_rules/cases/facts.py")
            ctx.error(document, ("facts", name), f"fact '{name}' is not computed from the case", hint)
            continue
        values = tuple(spec.values) if spec.values else base_values(ctx.vocabulary).get(name)
        _check_change(ctx, document, name, spec)
        ctx.facts[name] = FactSpec(name, spec.kind, spec.description, spec.ask, values, "case",
                                   change=spec.change or "none", offer=spec.offer, offer_absent=spec.offer_absent,
                                   wording=spec.description)
    for name in FACT_NAMES:
        if name not in catalogue.facts:
            ctx.error(document, ("facts",), f"fact '{name}' is computed but not in the catalogue",
                      "describe it in rules/facts.yaml")
    for term in ctx.vocabulary.terms.get("concepts", {}).values():
        name = FINDING_PREFIX + term.id
        ctx.facts[name] = FactSpec(name, "finding", f"{term.label} (for the item's region)",
                                   f"whether there is {term.label}, with the body region and side "
                                   "(history or examination)", None, "case", change="document", wording=term.label)
    if catalogue.offer_wording is not None:
        for key, template in catalogue.offer_wording.model_dump().items():
            _check_offer(ctx, document, ("offer_wording", key), template)


OFFER_FIELDS = ("fact", "value", "now")
"""Fields an offer template may use: the fact's words, the value offered, the value now."""


def _check_change(ctx: _Context, document: SourceDocument, name: str, spec: FactSpecModel) -> None:
    """A base fact says how it can change; an offer is worded only for a fact that can change."""
    where = ("facts", name)
    if spec.change is None:
        ctx.diagnostics.append(Diagnostic(
            document.name, document.line_of(where), dotted(where), f"fact '{name}' does not say how it can change",
            "add 'change: document' (a finding the physician can document), 'request' (the request itself) or "
            "'none' (history); what-if treats it as 'none' meanwhile", "warning"))
    if (spec.change or "none") == "none":
        for key in ("offer", "offer_absent"):
            if getattr(spec, key) is not None:
                ctx.error(document, (*where, key), f"'{key}' is given but the fact cannot change (change: none)",
                          "remove it, or say how the fact can change")
    if spec.offer_absent is not None and spec.kind != "finding":
        ctx.error(document, (*where, "offer_absent"), f"'offer_absent' is for findings; '{name}' is a {spec.kind}",
                  "word the change in 'offer' with {value}")
    for key in ("offer", "offer_absent"):
        template = getattr(spec, key)
        if template is not None:
            _check_offer(ctx, document, (*where, key), template)


def _check_offer(ctx: _Context, document: SourceDocument, path: PathKey, template: str) -> None:
    unknown = [f for f in template_fields(template) if f not in OFFER_FIELDS]
    if unknown:
        ctx.error(document, path, f"unknown field '{{{unknown[0]}}}' in an offer",
                  "an offer may use " + ", ".join(f"{{{f}}}" for f in OFFER_FIELDS))


def _derived_facts(ctx: _Context) -> None:
    for parsed, document in ctx.loaded.rule_files:
        for name, spec in parsed.derived_facts.items():
            if name in ctx.facts:
                other = ctx.facts[name].origin
                ctx.error(document, ("derived_facts", name), f"fact '{name}' is already declared by {other}",
                          "declare each derived fact once and reuse it")
                continue
            if spec.change is not None or spec.offer is not None or spec.offer_absent is not None:
                key = "change" if spec.change is not None else ("offer" if spec.offer is not None else "offer_absent")
                ctx.error(document, ("derived_facts", name, key), f"derived fact '{name}' cannot say how it changes",
                          "a derived fact changes through the base facts it is concluded from; "
                          "say it in rules/facts.yaml")
            if not re.match(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", name):
                ctx.error(document, ("derived_facts", name), f"'{name}' is not a valid fact name",
                          "use lower-case words joined by dots")
                continue
            ctx.facts[name] = _fact_spec(name, spec, parsed.id)


def _fact_spec(name: str, spec: FactSpecModel, origin: str) -> FactSpec:
    return FactSpec(name, spec.kind, spec.description, spec.ask,
                    tuple(spec.values) if spec.values else None, origin)


def _condition(ctx: _Context, text: str, document: SourceDocument, path: PathKey) -> Condition | None:
    try:
        condition = parse_condition(text)
    except ConditionSyntaxError as exc:
        ctx.error(document, path, f"cannot read condition '{text}': {exc}")
        return None
    problem = _check_condition(ctx, condition)
    if problem:
        ctx.error(document, path, problem[0], problem[1])
        return None
    return condition


def _check_condition(ctx: _Context, condition: Condition) -> tuple[str, str] | None:
    for name in condition.facts_read:
        if name not in ctx.facts:
            return f"unknown fact '{name}' in '{condition.text}'", ctx.nearest_fact(name)
    other = ctx.facts[condition.operand.name] if isinstance(condition.operand, FactRef) else None
    return condition.operator.check(condition, ctx.facts[condition.fact], other)


def _derivations(ctx: _Context, specs: Iterable[DerivationSpec], document: SourceDocument,
                 topic: str | None, prefix: PathKey) -> list[Derivation]:
    result = []
    for index, spec in enumerate(specs):
        path = (*prefix, index)
        conditions = [_condition(ctx, text, document, (*path, "when", i)) for i, text in enumerate(spec.when)]
        conclusions: list[tuple[str, Expression]] = []
        for name, raw in spec.conclude.items():
            where = (*path, "conclude", name)
            if name not in ctx.facts or ctx.facts[name].origin == "case":
                hint = "declare it under derived_facts" if name not in ctx.facts else "case facts cannot be concluded"
                ctx.error(document, where, f"'{name}' is not a declared derived fact", hint)
                continue
            try:
                expression = parse_expression(raw)
            except ConditionSyntaxError as exc:
                ctx.error(document, where, f"cannot read conclusion '{raw}': {exc}")
                continue
            unknown = [f for f in expression.facts_read if f not in ctx.facts]
            if unknown:
                ctx.error(document, where, f"unknown fact '{unknown[0]}' in '{raw}'", ctx.nearest_fact(unknown[0]))
                continue
            values = ctx.facts[name].values
            if expression.literal is not None and values and str(expression.literal) not in values:
                ctx.error(document, where, f"'{expression.literal}' is not a value of '{name}'",
                          "one of: " + ", ".join(values))
                continue
            conclusions.append((name, expression))
        valid = [c for c in conditions if c is not None]
        if len(valid) == len(conditions) and len(conclusions) == len(spec.conclude):
            result.append(Derivation(spec.id, valid, conclusions, spec.assumes, topic,
                                     Located(document.name, document.line_of(path))))
        if spec.assumes:
            _check_template(ctx, spec.assumes, document, (*path, "assumes"))
    return result


def _editions(ctx: _Context, parsed: TopicFile, document: SourceDocument) -> list[tuple[str, PathKey]]:
    """The editions a topic file is written for, each with where it is named: 'guideline' or 'editions'."""
    if (parsed.guideline is None) == (parsed.editions is None):
        ctx.error(document, ("guideline",), f"topic {parsed.id} needs exactly one of 'guideline' and 'editions'",
                  "name one edition under 'guideline', or several under 'editions'")
        return []
    if parsed.guideline is not None:
        return [(parsed.guideline, ("guideline",))]
    assert parsed.editions is not None
    return [(edition, ("editions", i)) for i, edition in enumerate(parsed.editions)]


def _topics(ctx: _Context, parsed: TopicFile, document: SourceDocument,
            guidelines: dict[str, Guideline]) -> list[Topic]:
    """The topic rules of a topic file: one, or one per edition listed under 'editions' (id '<id>.<edition>')."""
    start = len(ctx.diagnostics)
    editions = _editions(ctx, parsed, document)
    several = parsed.editions is not None
    topics = [_topic(ctx, parsed, document, guidelines, edition, where, several) for edition, where in editions]
    new = ctx.diagnostics[start:]
    ctx.diagnostics[start:] = [d for i, d in enumerate(new) if d not in new[:i]]  # once per file, not per edition
    return [t for t in topics if t is not None]


def _check_guideline(ctx: _Context, parsed: TopicFile, document: SourceDocument, guidelines: dict[str, Guideline],
                     edition: str, where: PathKey) -> Guideline | None:
    guideline = guidelines.get(edition)
    if guideline is None:
        match = difflib.get_close_matches(edition, list(guidelines), n=1, cutoff=0.5)
        ctx.error(document, where, f"unknown guideline '{edition}'",
                  f"did you mean '{match[0]}'?" if match else "add it to rules/guidelines.yaml")
    elif guideline.cite_by == "pages" and not parsed.citation.pages:
        ctx.error(document, ("citation", "pages"), f"{guideline.id} is cited by page; pages are missing")
    elif guideline.cite_by == "section" and not parsed.citation.section:
        ctx.error(document, ("citation", "section"), f"{guideline.id} is cited by section; section is missing")
    return guideline


def _check_kind(ctx: _Context, parsed: TopicFile, document: SourceDocument) -> None:
    """Criteria and rationale fit the topic's kind: with criteria, not recommended, or needs-licensed."""
    licensed = parsed.needs_licensed is not None
    if parsed.recommended and not parsed.criteria and not licensed:
        ctx.error(document, ("criteria",), f"topic {parsed.id} has no criteria",
                  "list the criteria, set 'recommended: false' for a service the guideline does not recommend, "
                  "or 'needs_licensed' where only the licensed guideline text gives them")
    if (not parsed.recommended or licensed) and parsed.criteria:
        ctx.error(document, ("criteria",), f"topic {parsed.id} is not recommended or needs the licensed text, "
                  "but lists criteria", "such a topic has no criteria to meet; remove them or that line")
    if licensed and not parsed.recommended:
        ctx.error(document, ("needs_licensed",), f"topic {parsed.id} is both not recommended and needs-licensed",
                  "keep one: the guideline's position is either known (not recommended) or not public")
    allowed = ("needs_licensed",) if licensed else ("overturned", "upheld", "not_documented")
    wanted = allowed if parsed.recommended else ("upheld",)  # a not-recommended topic is always Upheld
    for name in ("overturned", "upheld", "not_documented", "needs_licensed"):
        template = getattr(parsed.rationale, name)
        if name in wanted and not template.strip():
            ctx.error(document, ("rationale",), f"topic {parsed.id} has no '{name}' rationale",
                      f"add rationale: {name}: a template for that outcome")
        elif name not in allowed and template.strip():
            ctx.error(document, ("rationale", name), f"topic {parsed.id} cannot come out '{name}'",
                      "remove that rationale" + (" (a needs-licensed topic gives needs_licensed only)"
                                                 if licensed else " (needs_licensed is for needs-licensed topics)"))
        else:
            _check_template(ctx, template, document, ("rationale", name))


def _topic(ctx: _Context, parsed: TopicFile, document: SourceDocument, guidelines: dict[str, Guideline],
           edition: str, where: PathKey, several: bool) -> Topic | None:
    errors_before = ctx.error_count()
    guideline = _check_guideline(ctx, parsed, document, guidelines, edition, where)
    _check_applies_to(ctx, parsed, document)
    when = [_condition(ctx, text, document, ("applies_to", "when", i)) for i, text in
            enumerate(parsed.applies_to.when)]
    topic_id = f"{parsed.id}.{edition}" if several else parsed.id
    derive = _derivations(ctx, parsed.derive, document, topic_id, ("derive",))
    seen: set[str] = set()
    criteria = [_criterion(ctx, spec, document, ("criteria", i), topic_id, seen)
                for i, spec in enumerate(parsed.criteria)]
    for i, spec in enumerate(parsed.criteria):
        _check_provenance(ctx, spec, document, ("criteria", i), inherited=())
    _check_kind(ctx, parsed, document)
    if ctx.error_count() > errors_before or guideline is None:
        return None
    regions = tuple(parsed.applies_to.body_regions) if parsed.applies_to.body_regions else None
    return Topic(
        id=topic_id, title=parsed.title, topic=parsed.topic, guideline=guideline, citation=parsed.citation,
        services=tuple(parsed.applies_to.services), body_regions=regions,
        when=[c for c in when if c is not None], precedence=parsed.precedence, recommended=parsed.recommended,
        criteria=[c for c in criteria if c is not None], derive=derive, rationale=parsed.rationale,
        where=Located(document.name, document.line_of(where if several else ("id",))), path=document.path,
        needs_licensed=parsed.needs_licensed)


def _check_applies_to(ctx: _Context, parsed: TopicFile, document: SourceDocument) -> None:
    """The services and regions a topic applies to must be in the vocabulary."""
    for name, kind in (("services", "services"), ("body_regions", "body_regions")):
        for index, term in enumerate(getattr(parsed.applies_to, name) or []):
            if not ctx.vocabulary.has(kind, term):
                ctx.error(document, ("applies_to", name, index), f"unknown {SINGULAR[kind]} '{term}'",
                          ctx.vocabulary.hint(kind, term))


def _criterion(ctx: _Context, spec: CriterionSpec, document: SourceDocument, path: PathKey, topic_id: str,
               seen: set[str]) -> Criterion | None:
    where = Located(document.name, document.line_of(path))
    if spec.id in seen:
        ctx.error(document, (*path, "id"), f"criterion id '{spec.id}' is used twice in this topic")
    seen.add(spec.id)
    given = [name for name in ("test", "all_of", "any_of") if getattr(spec, name) is not None]
    if len(given) != 1:
        ctx.error(document, path, f"criterion '{spec.id}' needs exactly one of test, all_of, any_of",
                  f"it has {', '.join(given) or 'none'}")
        return None
    key = f"{topic_id}/{spec.id}"
    if spec.test is not None:
        condition = _condition(ctx, spec.test, document, (*path, "test"))
        if spec.text is None:
            ctx.error(document, path, f"criterion '{spec.id}' has no text",
                      "add text: met / not_met / not_documented sentences for the rationale")
        else:
            for state in ("met", "not_met", "not_documented"):
                _check_template(ctx, getattr(spec.text, state), document, (*path, "text", state))
        if condition is None:
            return None
        return Criterion(key, spec.id, spec.label, "test", condition, [], spec.text, where, tuple(spec.sources),
                         spec.basis, spec.reason)
    group = spec.all_of if spec.all_of is not None else spec.any_of
    assert group is not None
    mode: str = "all" if spec.all_of is not None else "any"
    name = "all_of" if mode == "all" else "any_of"
    if not group:
        ctx.error(document, (*path, name), f"'{name}' of criterion '{spec.id}' is empty")
        return None
    children = [_criterion(ctx, child, document, (*path, name, i), topic_id, seen) for i, child in enumerate(group)]
    if any(child is None for child in children):
        return None
    return Criterion(key, spec.id, spec.label, "all" if mode == "all" else "any", None,
                     [c for c in children if c is not None], spec.text, where, tuple(spec.sources), spec.basis,
                     spec.reason)


def _check_provenance(ctx: _Context, spec: CriterionSpec, document: SourceDocument, path: PathKey,
                      inherited: tuple[str, ...]) -> None:
    """A reviewer-practice criterion needs its reason; a criterion without sources (own or its group's) warns."""
    if spec.basis == "reviewer_practice" and not (spec.reason or "").strip():
        ctx.error(document, (*path, "reason"), f"criterion '{spec.id}' follows reviewer practice but gives no reason",
                  "add reason: why reviewers apply it although the guideline does not state it")
    if spec.basis == "guideline" and spec.reason:
        ctx.error(document, (*path, "reason"), f"criterion '{spec.id}' has a reason but basis guideline",
                  "a reason is given only with 'basis: reviewer_practice'")
    sources = tuple(spec.sources) or inherited
    children = spec.all_of or spec.any_of or []
    if not sources and not children:
        ctx.diagnostics.append(Diagnostic(
            document.name, document.line_of(path), dotted((*path, "sources")),
            f"criterion '{spec.id}' names no reference section", "add sources: [mtus-reference.md <section> "
            "<confidence mark>] to it or to its group", "warning"))
    name = "all_of" if spec.all_of is not None else "any_of"
    for i, child in enumerate(children):
        _check_provenance(ctx, child, document, (*path, name, i), sources)


def _check_template(ctx: _Context, template: str, document: SourceDocument, path: PathKey) -> None:
    for name in template_fields(template):
        if name not in ctx.facts and name not in SPECIAL_FIELDS:
            ctx.error(document, path, f"template names unknown fact '{{{name}}}'", ctx.nearest_fact(name))
