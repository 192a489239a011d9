"""Shared helpers for samlconf's own tests: run scenarios against the embedded reference SP (or any
target), and the module-scoped redis_cloud IdP + reference SP pair most reference-SP tests use."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import pytest

from harness.engine import Engine
from harness.events import ScenarioResult
from harness.registry import get
from harness.runtime import Runtime
from harness.suite import resolve_target


def run_target(target: Any, ids: Iterable[str], *, mutants: Iterable[str] = (),
               drivers: Iterable[str] = ("http",), seed: int = 1234,
               tweak: Callable[[Runtime], Any] | None = None,
               inspect: Callable[[Runtime], Any] | None = None,
               **driver_options) -> tuple[list[ScenarioResult], Any]:
    """Run scenarios (each on every driver) against `target` in one Runtime: `tweak(rt)` before the
    first, `inspect(rt)` after the last (its value is returned with the results)."""
    drivers = list(drivers)
    with Runtime(target, mutants=tuple(mutants), seed=seed) as rt:
        if tweak is not None:
            tweak(rt)
        engine = Engine(rt, drivers, driver_options=driver_options)
        try:
            for sid in ids:
                for d in drivers:
                    engine.run_one(get(sid), d)
        finally:
            engine.close()
        seen = inspect(rt) if inspect is not None else None
    return engine.results, seen


def run_scenarios(profile: str, ids: Iterable[str], *, mutants: Iterable[str] = (),
                  drivers: Iterable[str] = ("http",), target=None, **driver_options) -> dict[str, ScenarioResult]:
    """Run scenarios against the bundled reference SP (optionally a mutant, or a changed `target`
    model of it); results by id[driver]."""
    drivers = list(drivers)
    results, _ = run_target(target or resolve_target(None, profile), ids, mutants=mutants, drivers=drivers,
                            **driver_options)
    return {f"{r.id}[{r.driver}]" if len(drivers) > 1 else r.id: r for r in results}


@pytest.fixture
def run():
    return run_scenarios


def module_profile(request) -> str:
    """The profile a test module works under: its `PROFILE`, else redis_cloud."""
    return getattr(request.module, "PROFILE", "redis_cloud")


@pytest.fixture(scope="module")
def idp(request):
    """A mock IdP (under the module's profile) for the module."""
    from reference_sp.testing import IdPUnderTest

    i = IdPUnderTest.start(profile=module_profile(request))
    yield i
    i.stop()


@pytest.fixture(scope="module")
def sp(request, idp, tmp_path_factory):
    """The correct reference SP (the module's profile) trusting `idp`, with its own database."""
    from reference_sp.testing import SPUnderTest

    s = SPUnderTest.start(idp, module_profile(request), db_dir=tmp_path_factory.mktemp("sp"))
    yield s
    s.stop()
