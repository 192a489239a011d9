"""Scenario registry: the `@scenario` decorator and the metadata every scenario declares."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Mapping


class Outcome(str, Enum):
    """What the SP should do with what the scenario sends."""

    ACCEPT = "accept"
    REJECT = "reject"


class Level(str, Enum):
    """RFC 2119 level of the rule a scenario checks: decides fail / warn / info."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


ACCEPT = Outcome.ACCEPT
REJECT = Outcome.REJECT

# Capabilities whose scenarios change state the whole SP shares (its accounts, IdP configuration,
# local users): with workers they run in one group, one after another, never interleaved.
SHARED_STATE = ("saml_admin", "bypass_users", "link_accounts", "local_users", "tenant_admin",
                "domain_verification", "delete_user", "idp_admin")
# Capabilities whose scenarios change which IdPs the SP trusts (replace the run's own IdP metadata,
# RC-CERT-UPDATE, KEY-08/10, ALG-10; or add one, KEY-07, TEN-01/03): every other scenario's login
# depends on that trust, so with workers against one SP they run alone, after all the others.
EXCLUSIVE = ("idp_admin",)


@dataclass(frozen=True)
class ScenarioSpec:
    id: str
    title: str
    func: Callable[..., Any]
    category: str
    refs: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    expect: Mapping[str, Outcome] = field(default_factory=lambda: {"*": ACCEPT})
    level: Level = Level.MUST
    negative: bool = False
    fix_hint: str = ""
    # the expectation the SP's declared facts set (its metadata, its profile's flows, the target
    # file): `expect_when(runtime)` -> Outcome, or None for the per-profile `expect`
    expect_when: Callable[[Any], "Outcome | None"] | None = None

    def expected(self, profile: str) -> Outcome:
        return self.expect.get(profile, self.expect.get("*", ACCEPT))

    def expected_for(self, runtime: Any) -> Outcome:
        """What this run expects: `expect_when(runtime)` when it decides, else the profile's."""
        if self.expect_when is not None:
            decided = self.expect_when(runtime)
            if decided is not None:
                return decided
        return self.expected(runtime.profile.name)

    @property
    def module(self) -> str:
        return self.func.__module__

    @property
    def shared_state(self) -> bool:
        """True when the scenario changes SP-wide state (see SHARED_STATE): run it in the serial group."""
        return any(n in SHARED_STATE for n in self.needs)

    @property
    def exclusive(self) -> bool:
        """True when no other scenario may run at the same time against the SP (see EXCLUSIVE)."""
        return any(n in EXCLUSIVE for n in self.needs)


_REGISTRY: dict[str, ScenarioSpec] = {}


def scenario(
    id: str,
    title: str,
    *,
    category: str,
    refs: Iterable[str] = (),
    needs: Iterable[str] = (),
    expect: Mapping[str, Outcome] | Outcome = ACCEPT,
    level: Level | str = Level.MUST,
    fix_hint: str = "",
    expect_when: Callable[[Any], Outcome | None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a scenario function `f(ctx) -> Observation` under a stable, never-reused ID.

    `expect` is one Outcome or a mapping profile -> Outcome with "*" as the default. A scenario
    whose expected outcome is REJECT for some profile is negative there, and the engine runs the
    valid baseline (positive control) before it.
    """
    exp = dict(expect) if isinstance(expect, Mapping) else {"*": expect}
    from .target import CAPABILITIES

    needs = tuple(needs)
    unknown = [n for n in needs if n not in CAPABILITIES]
    if unknown:
        raise ValueError(f"scenario {id}: unknown capability {unknown[0]!r} in needs "
                         f"(known: {', '.join(CAPABILITIES)})")

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        if id in _REGISTRY and _REGISTRY[id].func.__qualname__ != func.__qualname__:
            raise ValueError(f"scenario id {id} registered twice ({_REGISTRY[id].module}, {func.__module__})")
        spec = ScenarioSpec(
            id=id,
            title=title,
            func=func,
            category=category,
            refs=tuple(refs),
            needs=tuple(needs),
            expect=exp,
            level=Level(level),
            negative=any(v is REJECT for v in exp.values()) or expect_when is not None,
            fix_hint=fix_hint,
            expect_when=expect_when,
        )
        _REGISTRY[id] = spec
        func.samlconf_scenario = spec  # type: ignore[attr-defined]
        return func

    return deco


def load_package(package: str = "scenarios") -> None:
    """Import every module of the scenario package so their decorators register."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__, prefix=package + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(info.name)


def all_scenarios(package: str = "scenarios") -> list[ScenarioSpec]:
    load_package(package)
    return sorted(_REGISTRY.values(), key=lambda s: _sort_key(s.id))


def get(id: str) -> ScenarioSpec:
    all_scenarios()
    return _REGISTRY[id]


def _sort_key(sid: str) -> tuple[str, int, str]:
    prefix, _, num = sid.partition("-")
    return (prefix, int(num) if num.isdigit() else 0, sid)
