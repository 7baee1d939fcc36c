"""Load stage for rules: read every YAML file of a rules folder into its pydantic model.

Collects every problem from every file; nothing is skipped silently.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from pydantic import BaseModel, ValidationError

from imr_rules.cases.tables import TEMPLATE_WORDS, Tables
from imr_rules.cases.vocabulary import VOCABULARY_DIR, Vocabulary, load_vocabulary_once
from imr_rules.common.diagnostics import Diagnostic, InputError, display_path
from imr_rules.common.model_errors import translate
from imr_rules.common.yaml_source import SourceDocument, load_yaml
from imr_rules.rulebase.model import DerivationFile, FactCatalogueFile, GuidelineRegistryFile, TopicFile
from imr_rules.rulebase.templates import template_fields

REGISTRY_FILE = "guidelines.yaml"
FACTS_FILE = "facts.yaml"
CATALOGUE_FILE = "guideline_catalogue.yaml"
"""The guideline catalogue (sections of each guideline) read by ``imr-rules coverage --catalogue``; not a rule file."""
RuleFile = Union[TopicFile, DerivationFile]


@dataclass
class LoadedRules:
    """The parsed files of a rules folder, with their source documents for locating errors."""

    root: Path
    registry: tuple[GuidelineRegistryFile, SourceDocument] | None = None
    catalogue: tuple[FactCatalogueFile, SourceDocument] | None = None
    rule_files: list[tuple[RuleFile, SourceDocument]] = field(default_factory=list)
    vocabulary: Vocabulary | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def rule_file_paths(root: Path) -> list[Path]:
    """Every rule file under ``root``: YAML files outside example folders and the vocabulary, except registry
    and catalogue."""
    paths = []
    for folder, subfolders, names in os.walk(root):
        here = Path(folder)
        # example folders and the vocabulary are not rule files: not even walked (they hold most files)
        subfolders[:] = [name for name in subfolders if not name.endswith(".examples")
                         and not (here == root and name == VOCABULARY_DIR)]
        paths += [here / name for name in names if fnmatch.fnmatchcase(name, "*.y*ml")
                  and not (here == root and name in (REGISTRY_FILE, FACTS_FILE, CATALOGUE_FILE))]
    return sorted(paths)


def _parse(path: Path, model: type[BaseModel], loaded: LoadedRules) -> tuple[BaseModel, SourceDocument] | None:
    try:
        document = load_yaml(path)
    except InputError as exc:
        loaded.diagnostics.extend(exc.diagnostics)
        return None
    try:
        return model.model_validate(document.data), document
    except ValidationError as exc:
        loaded.diagnostics.extend(translate(exc, document, model))
        return None


def _rule_model(document_data: object) -> type[BaseModel] | None:
    if isinstance(document_data, dict):
        kind = document_data.get("kind")
        if kind == "topic":
            return TopicFile
        if kind == "derivations":
            return DerivationFile
    return None


def load_rules(root: Path) -> LoadedRules:
    """Parse the registry, the fact catalogue and every rule file under ``root``."""
    loaded = LoadedRules(root=root)
    if not root.is_dir():
        loaded.diagnostics.append(Diagnostic(display_path(root), None, "", "rules folder not found",
                                             "pass --rules DIR pointing at a folder with guidelines.yaml"))
        return loaded
    for name, model, attribute in ((REGISTRY_FILE, GuidelineRegistryFile, "registry"),
                                   (FACTS_FILE, FactCatalogueFile, "catalogue")):
        path = root / name
        if not path.exists():
            loaded.diagnostics.append(Diagnostic(display_path(path), None, "", f"{name} is missing",
                                                 "every rules folder needs the guideline registry and fact catalogue"))
            continue
        parsed = _parse(path, model, loaded)
        if parsed is not None:
            setattr(loaded, attribute, parsed)
    loaded.vocabulary, problems = load_vocabulary_once(root / VOCABULARY_DIR)
    loaded.diagnostics.extend(problems)
    if loaded.vocabulary is not None:
        loaded.diagnostics.extend(formulary_template_problems(loaded.vocabulary.tables))
    for path in rule_file_paths(root):
        _load_rule_file(path, loaded)
    return loaded


def formulary_template_problems(tables: Tables) -> list[Diagnostic]:
    """A field of a formulary outcome text that the pre-screen does not fill, at its file and line."""
    found = []
    for name, outcome in (tables.formulary.outcomes.items() if tables.formulary else ()):
        file, line = tables.formulary_where.get(name, ("formulary", None))
        found += [Diagnostic(file, line, f"outcomes.{name}.text", f"unknown template field '{{{word}}}'",
                             "fields: " + ", ".join(f"{{{w}}}" for w in TEMPLATE_WORDS))
                  for word in template_fields(outcome.text) if word not in TEMPLATE_WORDS]
    return found


def _load_rule_file(path: Path, loaded: LoadedRules) -> None:
    try:
        document = load_yaml(path)
    except InputError as exc:
        loaded.diagnostics.extend(exc.diagnostics)
        return
    model = _rule_model(document.data)
    if model is None:
        loaded.diagnostics.append(Diagnostic(document.name, document.line_of(("kind",)), "kind",
                                             "a rule file needs 'kind: topic' or 'kind: derivations'",
                                             "add the kind line at the top of the file"))
        return
    try:
        parsed = model.model_validate(document.data)
    except ValidationError as exc:
        loaded.diagnostics.extend(translate(exc, document, model))
        return
    assert isinstance(parsed, (TopicFile, DerivationFile))
    loaded.rule_files.append((parsed, document))
