"""The compiled rule-base cache: same decisions as a fresh build, a new key for any change the loader would
see, and no entry read that someone else could have written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imr_rules.common.diagnostics import Diagnostic
from imr_rules.engine import compiled_cache
from imr_rules.engine.knowledge_base import load_rule_base
from imr_rules.rulebase.compiler import CompiledRuleBase, compile_rule_base, snapshot
from tests.conftest import ROOT, RULES, SEEDS


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(compiled_cache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def shipped() -> tuple[CompiledRuleBase, tuple[Diagnostic, ...]]:
    rule_base, diagnostics = load_rule_base(RULES)
    return compile_rule_base(rule_base), tuple(diagnostics)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def _evaluate(case: Path, cache_setting: str) -> str:
    environment = {**os.environ, compiled_cache.CACHE_ENV: cache_setting}
    done = subprocess.run([sys.executable, "-m", "imr_rules", "evaluate", str(case), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_entry_loads_back_as_the_same_compiled_rule_base(cache: Path, shipped: tuple) -> None:
    compiled, diagnostics = shipped
    entry = compiled_cache.store(RULES.resolve(), compiled, diagnostics)
    assert entry is not None and entry.parent == cache
    assert entry.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    loaded = compiled_cache.load(RULES.resolve())
    assert loaded is not None
    assert snapshot(loaded[0]) == snapshot(compiled)
    assert loaded[0].rule_base.version == compiled.rule_base.version
    assert len(loaded[1]) == len(diagnostics)


def test_decisions_from_the_cache_are_those_of_a_fresh_build(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    for case in sorted(SEEDS.glob("*.yaml"))[:3]:
        fresh = _evaluate(case, "off")
        first = _evaluate(case, str(folder))  # builds and writes the entry
        cached = _evaluate(case, str(folder))  # reads it
        assert json.loads(first) == json.loads(fresh) == json.loads(cached)
    assert len(list(folder.glob("*.kb.pickle"))) == 1


def test_any_change_the_loader_reads_gives_a_new_key(rules_copy: Path) -> None:
    before = compiled_cache.cache_key(rules_copy)
    topic = next(p for p in sorted(rules_copy.rglob("*.yaml")) if "topic" in p.read_text()[:400]
                 and ".examples" not in str(p.parent))
    topic.write_text(topic.read_text() + "\n# an edit\n")
    edited = compiled_cache.cache_key(rules_copy)
    vocabulary = sorted((rules_copy / "vocabulary").glob("*.yaml"))[0]
    vocabulary.write_text(vocabulary.read_text() + "\n# an edit\n")
    vocabulary_edited = compiled_cache.cache_key(rules_copy)
    (topic.parent / "new_rule.yaml").write_text("kind: topic\n")
    added = compiled_cache.cache_key(rules_copy)
    assert len({before, edited, vocabulary_edited, added}) == 4


def test_example_cases_are_not_part_of_the_key(rules_copy: Path) -> None:
    before = compiled_cache.cache_key(rules_copy)
    example = next(rules_copy.rglob("*.examples/*.yaml"))
    example.write_text(example.read_text() + "\n# an edit\n")
    assert compiled_cache.cache_key(rules_copy) == before


def test_the_same_files_elsewhere_get_their_own_entry(rules_copy: Path) -> None:
    assert compiled_cache.cache_key(rules_copy) != compiled_cache.cache_key(RULES.resolve())


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="ownership checks need POSIX")
@pytest.mark.parametrize("spoil", ["entry writable by others", "folder writable by others", "entry is a link"])
def test_an_entry_others_could_have_written_is_not_read(cache: Path, shipped: tuple, spoil: str) -> None:
    entry = compiled_cache.store(RULES.resolve(), *shipped)
    assert entry is not None and compiled_cache.load(RULES.resolve()) is not None
    if spoil == "entry writable by others":
        entry.chmod(0o666)
    elif spoil == "folder writable by others":
        cache.chmod(0o777)
    else:
        real = entry.with_name("elsewhere")
        entry.rename(real)
        entry.symlink_to(real)
    assert compiled_cache.load(RULES.resolve()) is None


def test_a_damaged_entry_is_rebuilt(cache: Path, shipped: tuple) -> None:
    entry = compiled_cache.store(RULES.resolve(), *shipped)
    assert entry is not None
    entry.write_bytes(b"not a pickle")
    assert compiled_cache.load(RULES.resolve()) is None
    assert compiled_cache.store(RULES.resolve(), *shipped) == entry
    assert compiled_cache.load(RULES.resolve()) is not None


def test_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: tuple) -> None:
    monkeypatch.setenv(compiled_cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiled_cache.cache_folder() is None
    assert compiled_cache.store(RULES.resolve(), *shipped) is None
    assert compiled_cache.load(RULES.resolve()) is None
    assert not any(tmp_path.iterdir())


def test_the_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiled_cache.cache_folder() == tmp_path / "imr-rules"


def test_old_entries_are_pruned(cache: Path, shipped: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.mkdir(mode=0o700)
    for index in range(compiled_cache.KEEP_ENTRIES + 3):
        stale = cache / f"{index:032d}.kb.pickle"
        stale.write_bytes(b"old")
        os.utime(stale, ns=(index * 10**9, index * 10**9))
    entry = compiled_cache.store(RULES.resolve(), *shipped)
    remaining = sorted(cache.glob("*.kb.pickle"))
    assert entry in remaining and len(remaining) == compiled_cache.KEEP_ENTRIES
    assert cache / f"{0:032d}.kb.pickle" not in remaining
