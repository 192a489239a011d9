"""`samlconf run --workers N`: scenarios in N worker processes against one target, one report.

Each worker process owns a Runtime (its own mock IdP, and for the bundled reference SP its own SP
and database) and an Engine, and runs the scenarios it is handed, one at a time, returning each
result. This (front-end) process hands out work as workers free up, emits the events (so the same
report writers and progress display see one run), and, for a target of the user's, serves the
target's one IdP port with `harness.idp_router.IdPRouter`, which routes every login to the worker
whose IdP planned it. Scenarios that change SP-wide state (`ScenarioSpec.shared_state`) form one
task that a single worker runs in order, so they never interleave; those that change which IdPs the
SP trusts (`ScenarioSpec.exclusive`) form the last task, run when no other task is running.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

from .events import Event, RunFinished, RunStarted, ScenarioFinished, ScenarioResult, ScenarioStarted
from .registry import ScenarioSpec
from .target import Target

_WORKER: dict[str, Any] = {}


def _init_worker(target_json: str, mutants: tuple[str, ...], seed: int, drivers: list[str],
                 options: dict[str, Any], router: dict[str, str] | None, counter: Any) -> None:
    """In each worker process: one Runtime and Engine for every task it runs."""
    import atexit
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front-end decides when to stop
    from .engine import Engine
    from .idp_router import RouterLink
    from .runtime import Runtime

    with counter.get_lock():
        counter.value += 1
        index = counter.value
    target = Target.model_validate_json(target_json)
    link = RouterLink.from_dict({**router, "route": f"w{index}"}) if router else None
    rt = Runtime(target, mutants=mutants, seed=seed, router=link, worker=index)
    rt.start()
    engine = Engine(rt, drivers, driver_options=options)
    _WORKER.update(runtime=rt, engine=engine)

    def _stop() -> None:
        engine.close()
        rt.stop()

    atexit.register(_stop)


def _run_task(ids: list[str], driver: str) -> list[dict[str, Any]]:
    from reports.results_log import to_record

    from .registry import get

    engine = _WORKER["engine"]
    return [to_record(r) for r in engine.run_batch([get(sid) for sid in ids], [driver])]


def _run_meta() -> dict[str, Any]:
    import hashlib

    rt = _WORKER["runtime"]
    md = getattr(rt, "sp_metadata", None) or b""
    return {"sp_metadata_sha256": hashlib.sha256(md).hexdigest() if md else ""}


def tasks_for(specs: Sequence[ScenarioSpec], drivers: Sequence[str], chunk: int = 6) -> list[tuple[list[str], str]]:
    """Work units: the shared-state scenarios as one ordered task per driver (first: the longest),
    the others in chunks of `chunk` neighbours (so refusals share positive controls within a task,
    see Engine.run_batch) handed out as workers free up; last, the exclusive ones, one ordered task
    per driver, each to run alone (see run_parallel)."""
    out: list[tuple[list[str], str]] = []
    for d in drivers:
        shared = [s.id for s in specs if s.shared_state and not s.exclusive]
        if shared:
            out.append((shared, d))
    for d in drivers:
        rest = [s.id for s in specs if not s.shared_state and not s.exclusive]
        out += [(rest[i:i + chunk], d) for i in range(0, len(rest), chunk)]
    for d in drivers:
        alone = [s.id for s in specs if s.exclusive]
        if alone:
            out.append((alone, d))
    return out


def run_parallel(target: Target, specs: Sequence[ScenarioSpec], drivers: Sequence[str], workers: int, *,
                 listeners: Iterable[Callable[[Event], None]], mutants: tuple[str, ...] = (),
                 seed: int | None = None, driver_options: dict[str, Any] | None = None,
                 profile_name: str = "") -> list[ScenarioResult]:
    import secrets

    from reports.results_log import from_record

    from .engine import samlconf_version
    from .idp_router import IdPRouter

    listeners = list(listeners)

    def emit(event: Event) -> None:
        for listener in listeners:
            listener(event)

    seed = seed if seed is not None else secrets.randbelow(2**31)
    router = None
    if target.embedded is None:
        router = IdPRouter(target.idp.host, target.idp.port).start()
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("i", 0)
    results: list[ScenarioResult] = []
    interrupted = False
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker,
        initargs=(target.model_dump_json(by_alias=True), tuple(mutants), seed, list(drivers),
                  dict(driver_options or {}), router.link("w").to_dict() if router else None, counter))
    try:
        # One call per worker: the pool spawns a process per call while none is idle, so every
        # worker starts its Runtime now, side by side, not the second only after the first is up.
        started = [pool.submit(_run_meta) for _ in range(workers)]
        meta = started[0].result()
        emit(RunStarted(target=target.name, profile=profile_name, drivers=list(drivers),
                        scenario_ids=[s.id for s in specs],
                        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        mutants=sorted(set(mutants) | set(target.embedded.mutants if target.embedded else ())),
                        version=samlconf_version(), sp_metadata_sha256=meta["sp_metadata_sha256"]))
        pending: dict[Future, tuple[list[str], str]] = {}
        queue = tasks_for(specs, drivers)
        alone = {s.id for s in specs if s.exclusive}
        while queue or pending:
            # an exclusive task waits for every running task, and nothing starts beside it
            while queue and len(pending) < workers * 2 and not any(ids[0] in alone for ids, _ in pending.values()) \
                    and not (queue[0][0][0] in alone and pending):
                ids, d = queue.pop(0)
                emit(ScenarioStarted(ids[0], d))
                pending[pool.submit(_run_task, ids, d)] = (ids, d)
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                for rec in fut.result():
                    r = from_record(rec)
                    results.append(r)
                    emit(ScenarioFinished(r))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        if router is not None:
            router.stop()
        emit(RunFinished(list(results), interrupted, datetime.now(timezone.utc).isoformat(timespec="seconds")))
    return results
