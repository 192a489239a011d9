"""Building blocks for table-driven scenarios: one fault (or a few) on a valid baseline login."""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, Mapping, Sequence

from harness.context import ScenarioContext
from harness.registry import REJECT, Outcome, scenario
from harness.verdict import Observation


def _adopt(func: Callable[..., Any], id: str) -> None:
    """Name the generated function after its scenario and give it to the module that declared it
    (two frames up), so pytest collects it there."""
    func.__qualname__ = func.__name__ = f"scenario_{id.replace('-', '_').lower()}"
    func.__module__ = sys._getframe(2).f_globals["__name__"]


def fault(spec: str, **params: Any) -> Any:
    from mock_idp.faults import get

    return get(spec, **params)


def login(ctx: ScenarioContext, user: Any, faults: Sequence[Any], flow: str) -> None:
    if flow == "idp":
        ctx.idp_login(user, faults)
    else:
        ctx.sp_login(user, faults)


def victim_of(ctx: ScenarioContext) -> str:
    """A privileged identity at the SP's own domain that the attacker tries to become."""
    return f"admin.{ctx.runtime.next_seed()}@{ctx.target.testdata.email_domain}"


def second_login(ctx: ScenarioContext, user: Any, faults: Sequence[Any], *, flow: str = "sp",
                 store_check: bool = False) -> Observation:
    """Sign `user` in once, validly; then, in a fresh session, again with `faults` (replays and
    re-logins). If the first, valid login fails, the outcome is inconclusive, never a pass."""
    login(ctx, user, (), flow)
    if ctx.whoami() is None:
        return Observation(signed_in=None, intended=None, observable=False, note="the first login failed")
    ctx.restart()
    login(ctx, user, faults, flow)
    return ctx.observe(user, store_check=store_check)


def watch_fetches(ctx: ScenarioContext) -> Callable[[Observation], Observation]:
    """Start watching the IdP's out-of-band URLs; the returned function adds the check that the SP
    fetched none of them (an SP resolving an external entity or running an XSLT transform)."""
    before = ctx.idp.oob_seq()

    def check(obs: Observation) -> Observation:
        hits = ctx.idp.oob_hits(since=before)
        where = ", ".join(f"{h.get('kind')} from {h.get('remote')}" for h in hits)
        return obs.check("the SP fetched nothing from the message's URLs", not hits, f"fetched: {where}")

    return check


def single_fault(
    id: str,
    title: str,
    faults: Callable[[ScenarioContext], Sequence[Any]] | Sequence[str],
    *,
    category: str,
    refs: Iterable[str],
    expect: Outcome | Mapping[str, Outcome] = REJECT,
    level: str = "MUST",
    fix_hint: str = "",
    flow: str = "sp",
    needs: Iterable[str] = ("sp_initiated",),
) -> None:
    """Register a scenario: a fresh user logs in with exactly these faults; judge by the SP's state."""

    def run(ctx: ScenarioContext) -> Observation:
        user = ctx.new_user()
        fs = faults(ctx) if callable(faults) else [fault(f) for f in faults]
        fetched = watch_fetches(ctx)
        login(ctx, user, fs, flow)
        return fetched(ctx.observe(user))

    _adopt(run, id)
    scenario(id, title, category=category, refs=refs, needs=needs, expect=expect, level=level,
             fix_hint=fix_hint)(run)


def wrapping(
    id: str,
    title: str,
    fault_id: str,
    *,
    category: str,
    refs: Iterable[str],
    fix_hint: str,
) -> None:
    """Catalogue rule 3: first the wrapping with unchanged values, then with the victim's identity.
    Both must be refused; the first one accepted is the finding."""

    def run(ctx: ScenarioContext) -> Observation:
        user = ctx.new_user()
        ctx.sp_login(user, [fault(fault_id)])
        first = ctx.observe(user)
        if first.accepted or not all(c.ok for c in first.checks):
            first.note = "variant (a): wrapping with unchanged values was accepted"
            return first
        ctx.restart()
        attacker = ctx.new_user()
        victim = victim_of(ctx)
        ctx.sp_login(attacker, [fault(fault_id, victim=victim)])
        second = ctx.observe(attacker, intended=victim)
        second.note = "variant (b): wrapped assertion for the victim " + victim
        return second

    _adopt(run, id)
    scenario(id, title, category=category, refs=refs, needs=("sp_initiated",), expect=REJECT,
             fix_hint=fix_hint)(run)
