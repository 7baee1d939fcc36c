"""The Ray executor: actors that hold a built knowledge base (or NLP pipeline) and work through file chunks.

Files are named by path, so on a cluster every node must see them at the same path (shared storage).
``ray`` is imported only inside ``ray_session``; the actor classes are plain classes made remote there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from imr_rules.common.extras import needs_extra
from imr_rules.intake.extract import Extraction, extract_letter
from imr_rules.regression.runner import FileResult, evaluate_files

CHUNK = 64
"""Files sent to an actor per call: large enough to amortise a call, small enough to balance the actors."""
Result = TypeVar("Result")


class RegressWorker:
    """A Ray actor: builds the knowledge base once, then evaluates chunks of case files or letters."""

    def __init__(self, rules_dir: str | None) -> None:
        from imr_rules.engine.knowledge_base import evaluator

        self.engine = evaluator(Path(rules_dir) if rules_dir else None)
        self.engine.knowledge_base.register_all()

    def evaluate(self, paths: list[str]) -> list[FileResult]:
        """The result of each file, in order (a failing file is its own problem, as in the local run)."""
        return list(evaluate_files([Path(p) for p in paths], self.engine))


class ExtractWorker:
    """A Ray actor: loads the NLP pipeline once, then extracts chunks of letters."""

    def __init__(self) -> None:
        from imr_rules.intake.extract_facts import warm_up

        warm_up()

    def extract(self, paths: list[str]) -> list[Extraction]:
        """The extraction of each letter, in order; an unexpected failure is that letter's problem."""
        return [extract_one(Path(p)) for p in paths]


def extract_one(path: Path) -> Extraction:
    """One letter's extraction; an unexpected failure becomes its problem (a missing extra stops the run)."""
    from imr_rules.common.diagnostics import Diagnostic
    from imr_rules.common.extras import MissingExtraError
    from imr_rules.common.text import printable

    try:
        return extract_letter(path)
    except MissingExtraError:
        raise
    except Exception as exc:  # one letter's failure is reported and the others are extracted
        return Extraction(printable(str(path)), None, problems=[Diagnostic(
            str(path), None, "", f"internal error: {type(exc).__name__}: {exc}", "the other letters go on")])


@contextmanager
def ray_session(address: str | None, cpus: int | None = None) -> Iterator[Any]:
    """Connect to the Ray cluster at ``address`` (``auto``: the local cluster's head) or, without one,
    start a local Ray with ``cpus`` CPUs; yields the ``ray`` module. A local Ray is stopped afterwards."""
    with needs_extra("ray"):
        import ray
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=cpus, **options)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _chunks(paths: Sequence[Path]) -> list[list[str]]:
    names = [str(p) for p in paths]
    return [names[start:start + CHUNK] for start in range(0, len(names), CHUNK)]


def _actor_count(ray: Any, wanted: int | None) -> int:
    available = int(ray.available_resources().get("CPU", 1)) or 1
    return max(1, min(wanted or available, available))


def _map_chunks(ray: Any, actors: list[Any], method: str, chunks: list[list[str]],
                progress: Callable[[int, int], None] | None, total: int) -> list[Any]:
    """Every chunk through the actors (each kept busy), results in chunk order."""
    from ray.util import ActorPool

    pool = ActorPool(actors)
    results: list[Any] = []
    for part in pool.map(lambda actor, chunk: getattr(actor, method).remote(chunk), chunks):
        results.extend(part)
        if progress:
            progress(len(results), total)
    return results


def regress_on_ray(files: list[Path], rules_dir: Path | None, address: str | None, jobs: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> list[FileResult]:
    """``run_files`` on Ray: one actor per CPU (or ``jobs``), results in file order."""
    with ray_session(address, jobs) as ray:
        worker = ray.remote(num_cpus=1)(RegressWorker)
        count = _actor_count(ray, jobs)
        actors = [worker.remote(str(rules_dir) if rules_dir else None) for _ in range(count)]
        return _map_chunks(ray, actors, "evaluate", _chunks(files), progress, len(files))


def extract_on_ray(letters: list[Path], address: str | None, jobs: int | None = None) -> list[Extraction]:
    """``extract_letter`` over many letters on Ray, in letter order."""
    with ray_session(address, jobs) as ray:
        worker = ray.remote(num_cpus=1)(ExtractWorker)
        count = _actor_count(ray, jobs)
        actors = [worker.remote() for _ in range(count)]
        return _map_chunks(ray, actors, "extract", _chunks(letters), None, len(letters))
