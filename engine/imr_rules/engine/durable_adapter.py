"""The only module that touches durable_rules. It drives the C core directly, in one thread.

How it avoids the library's known traps (see ../shared/durable-rules-notes.md):
- no ``Host``: no background timer threads that could take an action from the next case;
- facts, never events (events are consumed by the first rule that sees them);
- a whole case is asserted in one call, and no rule is negated (the compiler never emits ``$not``);
- actions run here, in our loop: an exception aborts the case and is raised, never swallowed;
- short explicit ids and a single session id "0", deleted after every case (never reused by retraction);
- a sentinel rule runs once per ruleset at registration, so ``delete_state`` never meets a fresh session.

Concurrency: durable_rules has no locks in its C core and never releases the GIL, and every case runs in
session "0"; two threads in it at once crash the process or fail with error 307. So every call into the
C core holds one process-wide lock (``ENGINE_LOCK``): concurrent callers are safe and are served one case
at a time. For parallel speed, use processes (``regress --jobs N``), not threads.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import durable_rules_engine as _core

SESSION = "0"
Message = dict[str, Any]
AssertFact = Callable[[Message], None]
ActionHandler = Callable[[str, Message, AssertFact], None]
QuiescenceHandler = Callable[[], list[Message]]


ENGINE_LOCK = threading.RLock()
"""Held around every use of the durable_rules C core in this process."""


class EngineError(RuntimeError):
    """The rule engine failed on a case; the case has no result."""


class RulesetRefusedError(EngineError):
    """durable_rules refused to create a ruleset; ``code`` is its error number."""

    def __init__(self, name: str, detail: str) -> None:
        found = re.search(r"error code: (\d+)", detail)
        self.code = int(found.group(1)) if found else None
        super().__init__(f"durable_rules refused ruleset {name}: {detail}")


class DurableEngine:
    """Registered rulesets and a loop that evaluates one session at a time (thread-safe: one lock)."""

    def __init__(self) -> None:
        self._handles: dict[str, int] = {}

    def register(self, name: str, definition: dict[str, Any] | str) -> None:
        """Create a ruleset from its JSON definition (a dict or its JSON text); it needs a rule ``sentinel``."""
        text = definition if isinstance(definition, str) else json.dumps(definition, ensure_ascii=False)
        with ENGINE_LOCK:
            if name in self._handles:
                raise EngineError(f"ruleset {name} is already registered")
            try:
                handle = _core.create_ruleset(name, text)
            except _core.error as exc:
                raise RulesetRefusedError(name, str(exc)) from exc
            self._handles[name] = handle
            self.run(name, [{"id": "s", "t": "sentinel"}], lambda rule, message, assert_fact: None)

    def refuses(self, name: str, definition: dict[str, Any]) -> bool:
        """Whether durable refuses to create this ruleset (a trial; nothing is kept under ``name``)."""
        with ENGINE_LOCK:
            try:
                _core.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
            except _core.error:
                return True
            return False

    def run(self, name: str, facts: list[Message], on_action: ActionHandler,
            on_quiescence: QuiescenceHandler | None = None) -> None:
        """Assert ``facts`` as one batch, run every activation to quiescence, then delete the session.

        ``on_action(rule_name, message, assert_fact)`` runs each fired rule; it may assert new facts.
        ``on_quiescence()`` may return more facts to assert once nothing else can fire; the loop ends
        when it returns none.
        """
        handle = self._handles[name]
        session_facts = [{**fact, "sid": SESSION} for fact in facts]
        with ENGINE_LOCK:
            try:
                state_handle = self._assert_batch(handle, session_facts)
                while True:
                    self._drain(handle, state_handle, on_action)
                    more = on_quiescence() if on_quiescence else []
                    if not more:
                        break
                    state_handle = self._assert_batch(handle, [{**fact, "sid": SESSION} for fact in more])
            except _core.error as exc:
                raise EngineError(f"durable_rules failed in ruleset {name}: {exc}") from exc
            finally:
                _core.delete_state(handle, SESSION)

    @staticmethod
    def _assert_batch(handle: int, facts: list[Message]) -> int:
        result = _core.assert_facts(handle, json.dumps(facts, ensure_ascii=False))
        return int(result[1])

    @staticmethod
    def _drain(handle: int, state_handle: int, on_action: ActionHandler) -> None:
        def assert_fact(fact: Message) -> None:
            _core.assert_fact(handle, json.dumps({**fact, "sid": SESSION}, ensure_ascii=False))

        started = _core.start_action_for_state(handle, state_handle)
        if not started:
            return
        message: Message | None = json.loads(started[1])
        while message:
            rule_name = next(iter(message))
            try:
                on_action(rule_name, message[rule_name], assert_fact)
            except BaseException:
                _core.abandon_action(handle, state_handle)
                raise
            following = _core.complete_and_start_action(handle, state_handle)
            message = json.loads(following) if following else None
