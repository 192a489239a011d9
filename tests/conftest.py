"""Shared helpers for samlconf's own tests: run scenarios against the embedded reference SP."""
from __future__ import annotations

from typing import Iterable

import pytest

from harness.engine import Engine
from harness.events import ScenarioResult
from harness.registry import get
from harness.runtime import Runtime
from harness.suite import resolve_target


def run_scenarios(profile: str, ids: Iterable[str], *, mutants: Iterable[str] = (),
                  drivers: Iterable[str] = ("http",), target=None, **driver_options) -> dict[str, ScenarioResult]:
    """Run scenarios against the bundled reference SP (optionally a mutant, or a changed `target`
    model of it); results by id[driver]."""
    target = target or resolve_target(None, profile)
    with Runtime(target, mutants=tuple(mutants), seed=1234) as rt:
        engine = Engine(rt, list(drivers), driver_options=driver_options)
        try:
            for sid in ids:
                for d in drivers:
                    engine.run_one(get(sid), d)
        finally:
            engine.close()
    return {f"{r.id}[{r.driver}]" if len(list(drivers)) > 1 else r.id: r for r in engine.results}


@pytest.fixture
def run():
    return run_scenarios
