"""Convert version 1 case files to version 2 (``imr-rules migrate``), keeping their comments.

What changes (docs/case-format.md): case-wide ``neurologic``, ``red_flags``, ``muscle_spasm``,
``neuropathic_pain``, ``dyspepsia``, ``gi_risk_factors``, ``homebound`` and functional deficits become coded
findings. A finding needs a region: when every requested item is for the same region, the finding gets
it; otherwise its region is ``unknown`` (read against every region, as version 1 did) and a warning names
the file, so someone who has the record can set it. Nothing is invented. Prior treatment becomes a
treatment history; an empty list (documented none) becomes ``history_complete: true``, a list with entries
does not, so a therapy it does not name is no longer taken as "none". Items get ``regions`` lists;
a v1 quantity becomes an amount in ``units`` (v1 never said which unit). A file already at version 2 is
left as it is, so the command can be run again safely.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from imr_rules.cases import v1
from imr_rules.cases.model import SCHEMA_VERSION
from imr_rules.cases.reader import case_from_document
from imr_rules.cases.vocabulary import Vocabulary
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import PathKey, SourceDocument, load_yaml

NEUROLOGIC = {"focal_deficit": "focal_neurologic_deficit", "sensory_loss": "sensory_loss",
              "motor_weakness": "motor_weakness", "reflex_change": "reflex_change",
              "radicular_symptoms": "radicular_symptoms", "nerve_tension_sign": "nerve_tension_sign"}
"""Version 1 ``neurologic`` fields and the concept each becomes."""

CLINICAL_FINDINGS = {"muscle_spasm": "muscle_spasm", "neuropathic_pain": "neuropathic_pain",
                     "gi_risk_factors": "gi_risk_factor", "dyspepsia": "dyspepsia", "homebound": "homebound"}
"""Version 1 ``clinical`` findings and the concept each becomes."""

UNKNOWN_REGION = "unknown"


@dataclass
class Migration:
    """A version 2 case as data, the v2 path each comment belongs to, and what the conversion could not settle."""

    data: dict[str, Any]
    comments: dict[PathKey, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _State:
    case: v1.Case
    vocabulary: Vocabulary
    paths: dict[PathKey, PathKey] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def moved(self, old: PathKey, new: PathKey) -> None:
        self.paths[old] = new


def _documented(value: str) -> bool:
    return value in ("present", "absent")


def _clean(data: dict[str, Any], keep_empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leave out unset values; an empty list stays only where it means "documented none" (``keep_empty``)."""
    return {key: value for key, value in data.items()
            if value is not None and (key in keep_empty or (value != [] and value != {}))}


def _shared_region(case: v1.Case, vocabulary: Vocabulary) -> str | None:
    regions = {item.body_region for item in case.requested_items}
    if len(regions) == 1:
        region = regions.pop()
        if not vocabulary.region_scope_any(region):
            return region
    return None


def _finding(state: _State, concept: str, status: str, old: PathKey) -> None:
    if not _documented(status):
        return
    entry: dict[str, Any] = {"concept": concept, "status": status}
    term = state.vocabulary.terms["concepts"].get(concept)
    if term is None or term.scope != "patient":
        region = _shared_region(state.case, state.vocabulary)
        entry["region"] = region or UNKNOWN_REGION
    state.moved(old, ("clinical", "findings", len(state.findings)))
    state.findings.append(entry)


def _items(state: _State) -> list[dict[str, Any]]:
    items = []
    for index, item in enumerate(state.case.requested_items):
        data: dict[str, Any] = {"id": item.id, "description": item.description, "service": item.service,
                                "regions": [item.body_region]}
        state.moved(("requested_items", index, "body_region"), ("requested_items", index, "regions"))
        for name in ("visits", "frequency_per_week", "duration_weeks"):
            data[name] = getattr(item, name)
        if item.quantity is not None:
            data["quantity"] = {"amount": item.quantity, "unit": "units"}
        data.update(drug=item.drug, ingredients=item.ingredients, ancillary_to=item.ancillary_to, codes=item.codes)
        items.append(_clean(data))
    return items


def _treatment(state: _State) -> dict[str, Any] | None:
    entries = state.case.clinical.prior_treatment
    if entries is None:
        return None
    courses = []
    for index, entry in enumerate(entries):
        state.moved(("clinical", "prior_treatment", index), ("clinical", "treatment", "courses", index))
        courses.append(_clean({
            "modality": entry.type, "region": entry.body_region, "phase": entry.phase,
            "visits_authorized": entry.visits_authorized, "visits_completed": entry.visits_completed,
            "function_response": entry.functional_improvement if _documented(entry.functional_improvement) else None,
            "note": entry.note}))
    state.moved(("clinical", "prior_treatment"), ("clinical", "treatment"))
    return {"history_complete": not entries, "courses": courses} if courses else {"history_complete": True}


def _studies(state: _State, block: str, kind_field: str) -> list[dict[str, Any]] | None:
    studies = getattr(state.case.clinical, block)
    if studies is None:
        return None
    return [_clean({"kind": getattr(s, kind_field), "region": s.body_region, "date": s.date,
                    "abnormal": s.abnormal if _documented(s.abnormal) else None, "result": s.result})
            for s in studies]


def _collect_findings(state: _State) -> None:
    clinical = state.case.clinical
    for name, concept in NEUROLOGIC.items():
        _finding(state, concept, getattr(clinical.neurologic, name), ("clinical", "neurologic", name))
    for name in v1.RedFlags.model_fields:
        _finding(state, name, getattr(clinical.red_flags, name), ("clinical", "red_flags", name))
    for name, concept in CLINICAL_FINDINGS.items():
        _finding(state, concept, getattr(clinical, name), ("clinical", name))
    _finding(state, "functional_deficit", clinical.functional_status.deficits_documented,
             ("clinical", "functional_status", "deficits_documented"))
    if any(f.get("region") == UNKNOWN_REGION for f in state.findings):
        regions = sorted({item.body_region for item in state.case.requested_items})
        state.warnings.append(f"findings recorded for the whole case, items for {', '.join(regions)}: "
                              f"region set to '{UNKNOWN_REGION}'; set each finding's region from the record")


def _clinical(state: _State) -> dict[str, Any]:
    clinical = state.case.clinical
    _collect_findings(state)
    status = clinical.functional_status
    if status.description:
        state.unmapped.append(f"functional status: {status.description}")
    if _documented(clinical.surgery_authorized):
        certified = "certified" if clinical.surgery_authorized == "present" else "not certified"
        state.unmapped.append(f"the procedure the request accompanies is {certified}")
        state.warnings.append("v1 surgery_authorized kept in unmapped_facts: write the procedure as an item's "
                              "ancillary_to {description, status}")
    care = clinical.conservative_care
    monitoring = {name: value for name, value in clinical.opioid_monitoring.model_dump().items()
                  if value is not None and value != "not_documented"}
    medications = None if clinical.medications is None else [_clean({
        "name": m.name, "drug_class": m.drug_class, "start_date": m.start_date,
        "pain_response": m.response if _documented(m.response) else None,
        "function_response": m.response if _documented(m.response) else None}) for m in clinical.medications]
    return _clean({
        "findings": state.findings,
        "treatment": _treatment(state),
        "surgeries": None if clinical.surgeries is None else [_clean({
            "procedure": s.procedure, "region": s.body_region, "date": s.date, "description": s.description})
            for s in clinical.surgeries],
        "imaging": _studies(state, "imaging", "modality"),
        "electrodiagnostics": _studies(state, "electrodiagnostics", "test"),
        "conservative_care": _clean({"weeks": care.weeks,
                                     "failed": care.failed if _documented(care.failed) else None,
                                     "home_exercise_program": care.home_exercise_program
                                     if _documented(care.home_exercise_program) else None}),
        "medications": medications,
        "functional_goals": status.goals_documented if _documented(status.goals_documented) else None,
        "work_status": clinical.work_status,
        "pain_score": clinical.pain_score,
        "surgery_planned": clinical.surgery_planned if _documented(clinical.surgery_planned) else None,
        "opioid_monitoring": monitoring,
        "unmapped_facts": [*clinical.unmapped_facts, *state.unmapped],
    }, keep_empty=("surgeries", "imaging", "electrodiagnostics", "medications"))


def _diagnoses(case: v1.Case, state: _State) -> list[dict[str, Any]]:
    for index in range(len(case.diagnoses)):
        state.moved(("diagnoses", index, "body_region"), ("diagnoses", index, "region"))
    return [_clean({"description": d.description, "category": d.category, "region": d.body_region,
                    "icd10": d.icd10}) for d in case.diagnoses]


def _provenance(case: v1.Case, state: _State) -> list[dict[str, Any]] | None:
    if case.provenance is None:
        return None
    moved = sorted(((_dotted(old), _dotted(new)) for old, new in state.paths.items()), key=lambda p: -len(p[0]))
    result = []
    for entry in case.provenance:
        data = entry.model_dump(exclude_none=True)
        for old, new in moved:
            if data["field"] == old or data["field"].startswith((old + ".", old + "[")):
                data["field"] = new + data["field"][len(old):]
                break
        result.append(data)
    return result


def migrate_case(case: v1.Case, vocabulary: Vocabulary) -> Migration:
    """The version 2 data of a validated version 1 case, with the warnings of what it could not settle."""
    return _convert(case, vocabulary)[0]


def _convert(case: v1.Case, vocabulary: Vocabulary) -> tuple[Migration, dict[PathKey, PathKey]]:
    """The migration and where each version 1 path went (for comments and provenance)."""
    state = _State(case, vocabulary)
    data: dict[str, Any] = {"schema": SCHEMA_VERSION, "case_id": case.case_id, "description": case.description,
                            "claim": case.claim.model_dump(exclude_none=True),
                            "patient": case.patient.model_dump(exclude_none=True),
                            "diagnoses": _diagnoses(case, state),
                            "requesting_specialty": case.requesting_specialty, "request_date": case.request_date,
                            "requested_items": _items(state), "clinical": _clinical(state)}
    if case.recorded is not None:
        data["recorded"] = case.recorded.model_dump(exclude_none=True)
    if case.expect is not None:
        data["expect"] = [e.model_dump(exclude_none=True) for e in case.expect]
    data["provenance"] = _provenance(case, state)
    state.paths.setdefault(("clinical", "neurologic"), ("clinical", "findings"))
    state.paths.setdefault(("clinical", "red_flags"), ("clinical", "findings"))
    state.paths.setdefault(("clinical", "functional_status"), ("clinical",))
    return Migration(_clean(data), warnings=state.warnings), state.paths


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def migrate_data(data: dict[str, Any], vocabulary: Vocabulary, name: str = "<data>") -> Migration:
    """Convert version 1 case data (as read from YAML or JSON) to version 2; raise ``InputError`` if it is not
    a valid version 1 case."""
    return _migrate_document(SourceDocument(Path(name), data, {(): 1}), vocabulary, {})


def _migrate_document(document: SourceDocument, vocabulary: Vocabulary, comments: dict[int, str]) -> Migration:
    try:
        case = v1.Case.model_validate(document.data)
    except ValidationError as exc:
        raise InputError(translate(exc, document, v1.Case)) from None
    migration, paths = _convert(case, vocabulary)
    for line, text in comments.items():
        old = _path_at_line(document, line)
        if old is not None:
            migration.comments[_moved(old, paths)] = text
    return migration


def _path_at_line(document: SourceDocument, line: int) -> PathKey | None:
    on_line = [path for path, found in document.lines.items() if found == line and path]
    return min(on_line, key=len) if on_line else None


def _moved(old: PathKey, paths: dict[PathKey, PathKey]) -> PathKey:
    for size in range(len(old), 0, -1):
        prefix = old[:size]
        if prefix in paths:
            return paths[prefix] + old[size:]
    return old


def trailing_comments(text: str) -> tuple[list[str], dict[int, str]]:
    """The comment lines before the first key (the header), and each line's trailing comment by line number."""
    header: list[str] = []
    trailing: dict[int, str] = {}
    started = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            if not started:
                header.append(line)
            continue
        if stripped and stripped != "---":
            started = True
        comment = _comment_of(line)
        if comment:
            trailing[number] = comment
    return header, trailing


def _comment_of(line: str) -> str | None:
    quote: str | None = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (index == 0 or line[index - 1] in " [{,:"):
            quote = char
        elif char == "#" and index > 0 and line[index - 1] in " \t":
            return line[index + 1:].strip() or None
    return None


# ---- writing: readable YAML with the comments where they were ------------------------------------------

_WIDTH = 116
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _scalar(value: Any) -> str:
    """A scalar as YAML, quoted where a flow collection needs it (commas, braces, colons)."""
    text = yaml.safe_dump([value], default_flow_style=True, width=10**9, allow_unicode=True, sort_keys=False)
    return text.strip()[1:-1]


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _inline(value: Any, column: int) -> bool:
    """Whether a value goes on its key's line: scalars, and short collections that hold no list of mappings."""
    if not isinstance(value, (dict, list)) or not value:
        return True
    if isinstance(value, list) and isinstance(value[0], dict):
        return False
    if isinstance(value, dict) and any(isinstance(v, list) and v and isinstance(v[0], dict) for v in value.values()):
        return False
    return column + len(_flow(value)) <= _WIDTH


@dataclass
class _Writer:
    lines: list[str] = field(default_factory=list)
    at: dict[PathKey, int] = field(default_factory=dict)

    def add(self, text: str, path: PathKey) -> None:
        self.at.setdefault(path, len(self.lines))
        self.lines.append(text)

    def mapping(self, value: dict[str, Any], path: PathKey, indent: int, first_prefix: str | None = None) -> None:
        for position, (key, child) in enumerate(value.items()):
            pad = first_prefix if (first_prefix is not None and position == 0) else " " * indent
            here = (*path, key)
            if _inline(child, indent + len(key) + 2):
                self.add(f"{pad}{key}: {_flow(child)}", here)
                self._mark_inside(child, here)
            else:
                self.add(f"{pad}{key}:", here)
                self.block(child, here, indent + 2)

    def block(self, value: Any, path: PathKey, indent: int) -> None:
        if isinstance(value, dict):
            self.mapping(value, path, indent)
            return
        for index, child in enumerate(value):
            here = (*path, index)
            if _inline(child, indent + 2) and path != ("requested_items",):
                self.add(f"{' ' * indent}- {_flow(child)}", here)
                self._mark_inside(child, here)
            else:
                self.at.setdefault(here, len(self.lines))
                self.mapping(child, here, indent + 2, first_prefix=" " * indent + "- ")

    def _mark_inside(self, value: Any, path: PathKey) -> None:
        line = self.at[path]
        children: list[tuple[Any, Any]] = list(value.items()) if isinstance(value, dict) else \
            list(enumerate(value)) if isinstance(value, list) else []
        for key, child in children:
            self.at.setdefault((*path, key), line)
            self._mark_inside(child, (*path, key))


def _dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def render_case(migration: Migration, header: list[str] | None = None) -> str:
    """The version 2 case as YAML text: block layout, one line per short entry, comments kept."""
    writer = _Writer()
    for key, value in _dates(migration.data).items():
        if _inline(value, len(key) + 2):
            writer.add(f"{key}: {_flow(value)}", (key,))
            writer._mark_inside(value, (key,))
        else:
            writer.add(f"{key}:", (key,))
            writer.block(value, (key,), 2)
    placed: dict[int, list[str]] = {}
    unplaced: list[str] = []
    for path, text in migration.comments.items():
        line = next((writer.at[path[:size]] for size in range(len(path), 0, -1) if path[:size] in writer.at), None)
        if line is None:
            unplaced.append(f"# (version 1 comment) {text}")
        else:
            placed.setdefault(line, []).append(text)
    lines = [line + ("   # " + "; ".join(placed[i]) if i in placed else "") for i, line in enumerate(writer.lines)]
    return "\n".join([*(header or []), *unplaced, *lines]) + "\n"


# ---- files -----------------------------------------------------------------------------------------------

@dataclass
class FileMigration:
    """The outcome for one file: its new text (None when nothing to write), warnings and errors."""

    path: Path
    text: str | None
    status: str
    warnings: list[str] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


def is_case_data(data: Any) -> bool:
    """True for data that look like a case file (not a rule, vocabulary or other YAML file)."""
    return isinstance(data, dict) and "case_id" in data and "requested_items" in data


def migrate_file(path: Path, vocabulary: Vocabulary, today: dt.date | None = None) -> FileMigration:
    """Convert one case file; a version 2 file is reported as such and left alone."""
    try:
        document = load_yaml(path)
    except InputError as exc:
        return FileMigration(path, None, "error", problems=exc.diagnostics)
    if isinstance(document.data, dict) and document.data.get("schema") == SCHEMA_VERSION:
        return FileMigration(path, None, "already version 2")
    if not is_case_data(document.data):
        return FileMigration(path, None, "not a case file")
    text = path.read_text(encoding="utf-8")
    header, comments = trailing_comments(text)
    try:
        migration = _migrate_document(document, vocabulary, comments)
    except InputError as exc:
        return FileMigration(path, None, "error", problems=exc.diagnostics)
    rendered = render_case(migration, header)
    problems = _check_output(path, rendered, vocabulary, today)
    if problems:
        return FileMigration(path, None, "error", migration.warnings, problems)
    return FileMigration(path, rendered, "migrated", migration.warnings)


def _check_output(path: Path, rendered: str, vocabulary: Vocabulary, today: dt.date | None) -> list[Diagnostic]:
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / path.name
        probe.write_text(rendered, encoding="utf-8")
        try:
            case_from_document(load_yaml(probe), today, vocabulary)
        except InputError as exc:
            return [Diagnostic(display_path(path), d.line, d.field, f"the version 2 result is not valid: {d.message}",
                               d.hint or "fix the version 1 file or report this") for d in exc.diagnostics]
    return []


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a temporary file in the same folder, then a rename)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def case_paths(paths: list[Path]) -> list[Path]:
    """The YAML files named, and every YAML file under the folders named, sorted."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
    return found
