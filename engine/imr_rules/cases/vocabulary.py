"""The controlled vocabularies, as data: services, body regions, procedures, clinical concepts and the rest.

They live in the rule base (``rules/vocabulary/*.yaml``), so a rule author adds a service, a region or a
clinical finding without touching code. This module reads and validates them (every problem with file,
line, field and hint) and answers the questions cases, facts and rules ask of them: is this a known
service, which regions lie within the knee, is a McMurray test a meniscal sign.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imr_rules.cases.tables import TABLE_KINDS, TableFile, Tables, build_tables, table_model
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import SourceDocument, load_yaml

VOCABULARY_DIR = "vocabulary"
"""The folder of the rule base that holds the vocabulary files."""

KINDS: dict[str, str] = {
    "services": "what a requested item or a course of treatment is",
    "body_regions": "where a request, a finding, a diagnosis or a treatment applies",
    "procedures": "postsurgical visit table rows, and what an item names (neurotomy, injectate, evaluation)",
    "diagnosis_categories": "diagnosis groups the guidelines key allowances to",
    "work_statuses": "work status on the progress report",
    "test_kinds": "kinds of diagnostic test or study (EMG, NCS, ECG, MRI...)",
    "units": "units a requested quantity is counted in",
    "formulations": "formulations of a requested medication",
    "routes": "routes of administration",
    "devices": "kinds of durable medical equipment a request names (lumbar support, sling, cold unit...)",
    "nerves": "peripheral nerves a finding may name",
    "concepts": "clinical findings (signs, symptoms, tests, red flags) with is_a parents",
}
"""Every vocabulary kind, with what it names."""

SINGULAR = {"services": "service", "body_regions": "body region", "procedures": "procedure",
            "diagnosis_categories": "diagnosis category", "work_statuses": "work status", "test_kinds": "test kind",
            "units": "unit", "formulations": "formulation", "routes": "route", "devices": "device", "nerves": "nerve",
            "concepts": "clinical concept"}
"""How a message names one term of each kind."""

_FIELDS: dict[str, frozenset[str]] = {
    "services": frozenset({"group", "each_region"}),
    "body_regions": frozenset({"parents", "territory", "roots", "scope"}),
    "procedures": frozenset({"region"}),
    "test_kinds": frozenset({"services"}),
    "nerves": frozenset({"region"}),
    "concepts": frozenset({"is_a", "regions", "scope", "territorial", "value", "feeds", "description"}),
}
"""Fields a term may carry beyond id, label and synonyms, per kind."""

_COMMON = frozenset({"id", "label", "synonyms"})
ROOT_PATTERN = re.compile(r"^(C[1-8]|T(1[0-2]|[1-9])|L[1-5]|S[1-5])$")
"""A spinal nerve root as findings name it: C1-C8, T1-T12, L1-L5, S1-S5."""

TermId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class FeedsSpec(_Strict):
    """The guideline concept a clinical concept supports, and where the reference describes it."""

    concept: TermId = Field(description="Guideline concept, e.g. internal_derangement, radiculopathy, red_flag.")
    section: Annotated[str, Field(pattern=r"^\d+(\.\d+)*$")] = Field(
        description="Section of ../shared/guidelines/mtus-reference.md, e.g. '14.6'.")


class TermSpec(_Strict):
    """One term of a vocabulary file; which optional fields a term may use depends on the kind."""

    id: TermId
    label: Annotated[str, Field(min_length=1, max_length=200)]
    synonyms: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(default_factory=list)
    description: str | None = None
    group: TermId | None = None
    parents: list[TermId] | None = None
    territory: TermId | None = None
    roots: list[Literal["C", "T", "L", "S"]] | None = None
    scope: Literal["any_region", "patient"] | None = None
    region: TermId | None = None
    services: list[TermId] | None = None
    is_a: list[TermId] | None = None
    regions: list[TermId] | None = None
    territorial: bool | None = None
    value: Literal["grade", "degrees", "number", "text"] | None = None
    feeds: list[FeedsSpec] | None = None
    each_region: bool | None = Field(default=None, description="Services: a request naming several regions is "
                                     "judged region by region, and is necessary only if it is for every one.")


class VocabularyFile(_Strict):
    """A vocabulary file: ``kind: vocabulary``, which vocabulary it adds to, and its terms."""

    kind: Literal["vocabulary"]
    vocabulary: Literal["services", "body_regions", "procedures", "diagnosis_categories", "work_statuses",
                        "test_kinds", "units", "formulations", "routes", "devices", "nerves", "concepts"]
    terms: list[TermSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Term:
    """One validated term: id, label, synonyms, where it was defined, and the fields of its kind."""

    kind: str
    id: str
    label: str
    synonyms: tuple[str, ...] = ()
    where: str = ""
    description: str | None = None
    group: str | None = None
    parents: tuple[str, ...] = ()
    territory: str | None = None
    roots: tuple[str, ...] = ()
    scope: str | None = None
    region: str | None = None
    services: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    territorial: bool = False
    value: str | None = None
    feeds: tuple[tuple[str, str], ...] = ()
    each_region: bool = False

    def words(self) -> tuple[str, ...]:
        """Id, label and synonyms: what a search matches against."""
        return (self.id, self.id.replace("_", " "), self.label, *self.synonyms)


@dataclass(frozen=True)
class Vocabulary:
    """Every vocabulary of a rule base, validated; the hierarchies are closed once, here."""

    terms: dict[str, dict[str, Term]]
    region_up: dict[str, frozenset[str]] = field(default_factory=dict)
    concept_up: dict[str, frozenset[str]] = field(default_factory=dict)
    tables: Tables = field(default_factory=Tables)
    """The code, ICD-10-CM and drug tables (``kind: code_table``, ``icd10_map``, ``drug_table`` files)."""

    def ids(self, kind: str) -> tuple[str, ...]:
        """The ids of one vocabulary, in file order."""
        return tuple(self.terms.get(kind, {}))

    def has(self, kind: str, term_id: str) -> bool:
        """True when ``term_id`` is in the vocabulary ``kind``."""
        return term_id in self.terms.get(kind, {})

    def term(self, kind: str, term_id: str) -> Term:
        """The term ``term_id`` of vocabulary ``kind`` (KeyError when unknown)."""
        return self.terms[kind][term_id]

    def hint(self, kind: str, value: str) -> str:
        """A 'did you mean' hint for an unknown value, or where to look."""
        known = self.ids(kind)
        match = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
        if not match:
            lowered = value.lower().replace("_", " ")
            match = [t.id for t in self.terms.get(kind, {}).values()
                     if any(lowered == w.lower() for w in t.words())][:1]
        if match:
            return f"did you mean '{match[0]}'?"
        return f"see `imr-rules vocab {kind}` or add it to rules/{VOCABULARY_DIR}/ ({len(known)} known)"

    def regions_up(self, region: str) -> frozenset[str]:
        """The region and every region containing it (knee -> knee, lower_extremity)."""
        return self.region_up.get(region, frozenset({region}))

    def regions_related(self, region: str, other: str) -> bool:
        """True when ``region`` lies within ``other`` or contains it (knee and lower_extremity)."""
        return other in self.regions_up(region) or region in self.regions_up(other)

    def region_scope_any(self, region: str) -> bool:
        """True for a pseudo-region read against every region (multiple, systemic, unknown)."""
        term = self.terms.get("body_regions", {}).get(region)
        return term is not None and term.scope == "any_region"

    def territory_of(self, region: str) -> str | None:
        """The limb a spinal region's roots serve (lumbar -> lower_extremity), or None."""
        term = self.terms.get("body_regions", {}).get(region)
        return term.territory if term else None

    def region_of_root(self, root: str) -> str | None:
        """The spinal region a nerve root belongs to (L5 -> lumbar, S1 -> lumbar, C6 -> cervical)."""
        letter = root[:1]
        for term in self.terms.get("body_regions", {}).values():
            if letter in term.roots:
                return term.id
        return None

    def concepts_up(self, concept: str) -> frozenset[str]:
        """The concept and every concept it is a kind of (mcmurray_test -> ..., internal_derangement_sign)."""
        return self.concept_up.get(concept, frozenset({concept}))

    def concepts_down(self, concept: str) -> frozenset[str]:
        """The concept and every concept that is a kind of it."""
        return frozenset(c for c, ups in self.concept_up.items() if concept in ups)

    def search(self, text: str, kind: str | None = None) -> list[Term]:
        """Terms whose id, label or a synonym contains ``text`` (case-insensitive)."""
        needle = text.lower().strip()
        kinds = [kind] if kind else list(self.terms)
        return [term for k in kinds for term in self.terms.get(k, {}).values()
                if any(needle in word.lower() for word in term.words())]


def vocabulary_files(folder: Path) -> list[Path]:
    """The vocabulary files of a rules folder's ``vocabulary/`` subfolder, sorted."""
    return sorted(folder.rglob("*.y*ml")) if folder.is_dir() else []


def load_vocabulary(folder: Path) -> tuple[Vocabulary | None, list[Diagnostic]]:
    """Read and validate every vocabulary file in ``folder``; ``None`` with the errors when any is wrong."""
    diagnostics: list[Diagnostic] = []
    if not folder.is_dir():
        diagnostics.append(Diagnostic(display_path(folder), None, "", "vocabulary folder not found",
                                      f"a rules folder needs {VOCABULARY_DIR}/ with services.yaml, "
                                      "body_regions.yaml and the other vocabulary files"))
        return None, diagnostics
    parsed: list[tuple[VocabularyFile, SourceDocument]] = []
    tables: list[tuple[TableFile, SourceDocument]] = []
    for path in vocabulary_files(folder):
        try:
            document = load_yaml(path)
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
            continue
        kind = document.data.get("kind") if isinstance(document.data, dict) else None
        model: type[VocabularyFile] | type[TableFile] = table_model(kind) if kind in TABLE_KINDS else VocabularyFile
        try:
            spec = model.model_validate(document.data)
        except ValidationError as exc:
            diagnostics.extend(translate(exc, document, model))
            continue
        if isinstance(spec, VocabularyFile):
            parsed.append((spec, document))
        else:
            tables.append((spec, document))
    builder = _Builder(diagnostics)
    for vocabulary_spec, document in parsed:
        builder.add_file(vocabulary_spec, document)
    vocabulary = builder.finish(folder)
    built, problems = build_tables(tables, vocabulary.has, vocabulary.hint)
    diagnostics.extend(problems)
    vocabulary = Vocabulary(vocabulary.terms, vocabulary.region_up, vocabulary.concept_up, built)
    if any(d.severity == "error" for d in diagnostics):
        return None, diagnostics
    return vocabulary, diagnostics


@dataclass
class _Builder:
    diagnostics: list[Diagnostic]
    terms: dict[str, dict[str, Term]] = field(default_factory=dict)
    located: dict[tuple[str, str], tuple[SourceDocument, int]] = field(default_factory=dict)
    """Where each term is defined: its document and its index in ``terms``."""

    def error(self, document: SourceDocument, path: tuple[str | int, ...], message: str, hint: str = "") -> None:
        field_name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        self.diagnostics.append(Diagnostic(document.name, document.line_of(path), field_name, message, hint))

    def add_file(self, spec: VocabularyFile, document: SourceDocument) -> None:
        kind = spec.vocabulary
        allowed = _COMMON | _FIELDS.get(kind, frozenset())
        table = self.terms.setdefault(kind, {})
        for index, raw in enumerate(spec.terms):
            extra = sorted(name for name in raw.model_fields_set if name not in allowed)
            if extra:
                self.error(document, ("terms", index, extra[0]), f"'{extra[0]}' is not a field of a {kind} term",
                           "fields here: " + ", ".join(sorted(allowed)))
                continue
            if raw.id in table:
                first, where = self.located[(kind, raw.id)]
                self.error(document, ("terms", index, "id"), f"{kind} term '{raw.id}' is defined twice",
                           f"first defined at {first.name}:{first.line_of(('terms', where))}")
                continue
            table[raw.id] = _term(kind, raw, f"{document.name}:{document.line_of(('terms', index))}")
            self.located[(kind, raw.id)] = (document, index)

    def finish(self, folder: Path) -> Vocabulary:
        for kind in ("services", "body_regions"):
            if not self.terms.get(kind):
                self.diagnostics.append(Diagnostic(display_path(folder), None, "", f"no {kind} vocabulary",
                                                   f"add {VOCABULARY_DIR}/{kind}.yaml"))
        for kind in KINDS:
            self.terms.setdefault(kind, {})
        self._check_references()
        region_up = self._closure("body_regions")
        concept_up = self._closure("concepts")
        return Vocabulary(self.terms, region_up, concept_up)

    def _where(self, kind: str, term_id: str, name: str) -> tuple[SourceDocument, tuple[str | int, ...]]:
        document, index = self.located[(kind, term_id)]
        return document, ("terms", index, name)

    def _refer(self, kind: str, term: Term, name: str, target_kind: str, values: Iterable[str]) -> None:
        for value in values:
            if value not in self.terms[target_kind]:
                document, path = self._where(kind, term.id, name)
                known = Vocabulary(self.terms)
                self.error(document, path, f"'{value}' is not in the {target_kind} vocabulary",
                           known.hint(target_kind, value))

    def _check_references(self) -> None:
        for term in self.terms["body_regions"].values():
            self._refer("body_regions", term, "parents", "body_regions", term.parents)
            self._refer("body_regions", term, "territory", "body_regions", [term.territory] if term.territory else [])
        for kind in ("procedures", "nerves"):
            for term in self.terms[kind].values():
                self._refer(kind, term, "region", "body_regions", [term.region] if term.region else [])
        for term in self.terms["test_kinds"].values():
            self._refer("test_kinds", term, "services", "services", term.services)
        for term in self.terms["concepts"].values():
            self._refer("concepts", term, "is_a", "concepts", term.parents)
            self._refer("concepts", term, "regions", "body_regions", term.regions)
            if term.scope == "any_region":
                document, path = self._where("concepts", term.id, "scope")
                self.error(document, path, "a concept's scope is 'patient' or left out",
                           "'any_region' is for body_regions terms")
        for term in self.terms["body_regions"].values():
            if term.scope == "patient":
                document, path = self._where("body_regions", term.id, "scope")
                self.error(document, path, "a region's scope is 'any_region' or left out")

    def _closure(self, kind: str) -> dict[str, frozenset[str]]:
        closed: dict[str, frozenset[str]] = {}
        for term_id in self.terms[kind]:
            seen: set[str] = set()
            stack = [term_id]
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                term = self.terms[kind].get(current)
                for parent in term.parents if term else ():
                    if parent == term_id:
                        document, path = self._where(kind, term_id, "is_a" if kind == "concepts" else "parents")
                        self.error(document, path, f"'{term_id}' is its own ancestor (a cycle through '{current}')",
                                   "a hierarchy must not loop")
                        continue
                    stack.append(parent)
            closed[term_id] = frozenset(seen)
        return closed


def _term(kind: str, raw: TermSpec, where: str) -> Term:
    parents = raw.is_a if kind == "concepts" else raw.parents
    return Term(kind=kind, id=raw.id, label=raw.label, synonyms=tuple(raw.synonyms), where=where,
                description=raw.description, group=raw.group, parents=tuple(parents or ()),
                territory=raw.territory, roots=tuple(raw.roots or ()), scope=raw.scope, region=raw.region,
                services=tuple(raw.services or ()), regions=tuple(raw.regions or ()),
                territorial=bool(raw.territorial), value=raw.value,
                feeds=tuple((f.concept, f.section) for f in raw.feeds or ()), each_region=bool(raw.each_region))


def shipped_rules_dir() -> Path:
    """The rule base used when none is given: $IMR_RULES_DIR, else the rules shipped with the package.

    Installed, the rules are package data beside the code; in a source checkout they are ``rules/``.
    """
    configured = os.environ.get("IMR_RULES_DIR")
    if configured:
        return Path(configured)
    package = Path(__file__).resolve().parents[1]  # imr_rules/
    installed = package / "rules"
    if (installed / "guidelines.yaml").exists():
        return installed
    return package.parent.parent / "rules"


def _content_key(folder: Path) -> str:
    """A digest of the vocabulary files' names and bytes: a changed file is never served from the cache."""
    digest = hashlib.sha256()
    for path in vocabulary_files(folder):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _loaded(folder: Path, content_key: str) -> tuple[Vocabulary | None, tuple[Diagnostic, ...]]:
    vocabulary, diagnostics = load_vocabulary(folder)
    return vocabulary, tuple(diagnostics)


def load_vocabulary_once(folder: Path) -> tuple[Vocabulary | None, list[Diagnostic]]:
    """``load_vocabulary``, read once per process for the same files (the rule base and the case reader share it)."""
    folder = folder.resolve()
    vocabulary, diagnostics = _loaded(folder, _content_key(folder))
    return vocabulary, list(diagnostics)


@functools.lru_cache(maxsize=8)
def _vocabulary_at(folder: Path) -> Vocabulary:
    vocabulary, diagnostics = load_vocabulary_once(folder)
    if vocabulary is None:
        raise InputError([d for d in diagnostics if d.severity == "error"])
    return vocabulary


def vocabulary_of(rules_dir: Path | None = None) -> Vocabulary:
    """The validated vocabulary of a rules folder (default: the shipped rules), read once per process."""
    root = (rules_dir or shipped_rules_dir()).resolve()
    return _vocabulary_at(root / VOCABULARY_DIR)


def describe_term(term: Term) -> str:
    """One line for a term: id, label and the fields of its kind that are set."""
    details = []
    for name, value in (("group", term.group), ("within", ", ".join(term.parents) if term.kind == "body_regions"
                                                  else None),
                        ("is_a", ", ".join(term.parents) if term.kind == "concepts" else None),
                        ("territory", term.territory), ("roots", "/".join(term.roots) or None),
                        ("region", term.region), ("regions", ", ".join(term.regions) or None),
                        ("services", ", ".join(term.services) or None), ("scope", term.scope),
                        ("value", term.value), ("territorial", "yes" if term.territorial else None),
                        ("feeds", ", ".join(f"{c} (ref. {s})" for c, s in term.feeds) or None),
                        ("synonyms", ", ".join(term.synonyms) or None)):
        if value:
            details.append(f"{name}: {value}")
    suffix = f"  [{'; '.join(details)}]" if details else ""
    return f"{term.id:<38} {term.label}{suffix}"


def render_vocabulary(vocabulary: Vocabulary, kind: str | None = None, search: str | None = None) -> str:
    """The listing ``imr-rules vocab`` prints: the kinds, one kind's terms, or the terms matching a search."""
    if search:
        found = vocabulary.search(search, kind)
        lines = [f"{term.kind:<21} {describe_term(term)}" for term in found]
        return "\n".join([*lines, f"{len(found)} term(s) match '{search}'"]) + "\n"
    if kind:
        terms = vocabulary.terms.get(kind, {}).values()
        return "\n".join([f"# {kind}: {KINDS[kind]} ({len(terms)})", *(describe_term(t) for t in terms)]) + "\n"
    lines = [f"{name:<21} {len(vocabulary.terms.get(name, {})):>4}  {what}" for name, what in KINDS.items()]
    synonyms = sum(len(t.synonyms) for table in vocabulary.terms.values() for t in table.values())
    return "\n".join([*lines, f"{'synonyms':<21} {synonyms:>4}  other names of the terms above",
                      "imr-rules vocab KIND lists one vocabulary; --search TEXT finds a term"]) + "\n"
