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
                 store_check: bool = False, between: Callable[[], None] | None = None) -> Observation:
    """Sign `user` in once, validly; then (after `between()`, e.g. an SP restart), in a fresh session,
    again with `faults` (replays and re-logins). If the first, valid login fails, the outcome is
    inconclusive, never a pass."""
    login(ctx, user, (), flow)
    if ctx.whoami() is None:
        return Observation(signed_in=None, intended=None, observable=False, note="the first login failed")
    if between is not None:
        between()
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
        # an outbound request caused by the message is always a MUST (catalogue 0.2's REJECT oracle)
        return obs.check("the SP fetched nothing from the message's URLs", not hits, f"fetched: {where}",
                         level="MUST")

    return check


def no_server_error(ctx: ScenarioContext) -> Callable[[Observation], Observation]:
    """Start counting the SP's 5xx answers; the returned function adds the check that there were
    none (the catalogue's "reject gracefully": a refusal, not a crash). It counts whether or not
    anyone was signed in."""
    before = len(ctx.server_errors)

    def check(obs: Observation) -> Observation:
        new = ctx.server_errors[before:]
        return obs.check("the SP refused gracefully (no server error)", not new, "; ".join(new)[:300], always=True)

    return check


def me(ctx: ScenarioContext) -> dict[str, Any]:
    """The target's whoami answer as a dict ({} when it is none)."""
    data = ctx.whoami_data()
    return data if isinstance(data, dict) else {}


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
    expect_when: Callable[[Any], Outcome | None] | None = None,
    policy: Callable[[ScenarioContext], str | None] | None = None,
    note: Callable[[ScenarioContext], str] | None = None,
    graceful: bool = False,
) -> None:
    """Register a scenario: a fresh user logs in with exactly these faults; judge by the SP's state.
    `expect_when(runtime)` lets the SP's declared facts set the expectation; `policy(ctx)` names the
    SP's declared policy that makes a refusal `info` (None: no such policy); `note(ctx)` adds evidence;
    `graceful`: a server error (5xx) is a finding too (the catalogue's "reject gracefully")."""

    def run(ctx: ScenarioContext) -> Observation:
        user = ctx.new_user()
        fs = faults(ctx) if callable(faults) else [fault(f) for f in faults]
        fetched = watch_fetches(ctx)
        crashed = no_server_error(ctx) if graceful else (lambda o: o)
        login(ctx, user, fs, flow)
        obs = crashed(fetched(ctx.observe(user)))
        if policy is not None:
            obs.policy = policy(ctx)
        if note is not None:
            obs.note = "; ".join(x for x in (obs.note, note(ctx)) if x)
        return obs

    _adopt(run, id)
    scenario(id, title, category=category, refs=refs, needs=needs, expect=expect, level=level,
             fix_hint=fix_hint, expect_when=expect_when)(run)


def wrapping(
    id: str,
    title: str,
    fault_id: str,
    *,
    category: str,
    refs: Iterable[str],
    fix_hint: str,
    level: str = "MUST",
) -> None:
    """Catalogue rule 3: the wrapping first with unchanged values (a), then with the victim's
    identity (b), each in a fresh session. Both are reported; the verdict is the worse of the two:
    (b) signing in the victim is a takeover (fail); either signing in the attacker's own, genuinely
    signed identity is lax parsing (warn); both refused is a pass."""

    def run(ctx: ScenarioContext) -> Observation:
        return wrapped_variants(ctx, lambda victim: [fault(fault_id, victim=victim)] if victim
                                else [fault(fault_id)])

    _adopt(run, id)
    scenario(id, title, category=category, refs=refs, needs=("sp_initiated",), expect=REJECT,
             level=level, fix_hint=fix_hint)(run)


def outcome_text(obs: Observation) -> str:
    """One variant's outcome in words, for the evidence."""
    if not obs.observable:
        return f"not observable ({obs.note})" if obs.note else "not observable"
    if obs.signed_in is None:
        bad = [c for c in obs.checks if not c.ok]
        return "refused" + (f", but {bad[0].name}: {bad[0].detail}" if bad else "")
    if obs.signed_in == obs.intended and obs.intended != obs.signed_as:
        return f"SP signed in the forged identity {obs.signed_in!r}"
    if obs.signed_in == obs.signed_as:
        return f"SP signed in the genuinely signed identity {obs.signed_in!r}"
    return f"SP signed in {obs.signed_in!r}"


def wrapped_variants(ctx: ScenarioContext, faults_for: Callable[[str | None], Sequence[Any]],
                     *, flow: str = "sp") -> Observation:
    """Run a forgery twice: (a) `faults_for(None)` (the wrapping with unchanged values), then, in a
    fresh session with a fresh attacker, (b) `faults_for(victim)`. Returns the worse observation,
    its note naming both outcomes."""
    from harness.verdict import worse

    user = ctx.new_user()
    mine = ctx.email_of(user)
    login(ctx, user, faults_for(None), flow)
    a = ctx.observe(user, intended=mine, signed_as=mine)
    ctx.restart()
    attacker = ctx.new_user()
    victim = victim_of(ctx)
    login(ctx, attacker, faults_for(victim), flow)
    b = ctx.observe(attacker, intended=victim, signed_as=ctx.email_of(attacker))
    chosen = worse(ctx.expected, ctx.level, b, a)
    chosen.note = f"variant (a) unchanged values: {outcome_text(a)}; variant (b) victim {victim}: {outcome_text(b)}"
    return chosen


def first_accepted(ctx: ScenarioContext, cases: Iterable[Any],
                   attempt: Callable[[Any], Observation]) -> Observation:
    """Try one case after another, each in a fresh session (`attempt(case)` signs in and observes):
    the first that signs someone in is the finding; when every one is refused, the last observation."""
    obs: Observation | None = None
    for case in cases:
        ctx.restart()
        obs = attempt(case)
        if obs.accepted:
            return obs
    assert obs is not None, "first_accepted needs at least one case"
    return obs


def each_variant(ctx: ScenarioContext, variants: Sequence[tuple[str, Callable[[], Sequence[Any]]]], *,
                 flow: str = "sp", graceful: bool = False) -> Observation:
    """One case in several shapes, each a fresh user in a fresh session (with the fetch watch):
    the first shape that signs someone in (or fails a check) is the finding; else the last
    observation, its note naming every shape tried. `graceful`: a 5xx is a finding too."""
    obs: Observation | None = None
    for i, (what, faults_of) in enumerate(variants):
        if i:
            ctx.restart()
        user = ctx.new_user()
        fetched = watch_fetches(ctx)
        crashed = no_server_error(ctx) if graceful else (lambda o: o)
        login(ctx, user, faults_of(), flow)
        obs = crashed(fetched(ctx.observe(user)))
        obs.note = what
        if obs.accepted or not all(c.ok for c in obs.checks):
            return obs
    assert obs is not None, "each_variant needs at least one variant"
    obs.note = "every shape refused: " + "; ".join(w for w, _ in variants)
    return obs


# What a check reads from an SP that does not show it: the check is unseen (ok=None, inconclusive),
# never failed. An SP nobody here wrote shows what it likes in its whoami answer.
NOT_SHOWN: Any = type("NotShown", (), {"__repr__": lambda self: "<not shown>"})()


def shown(data: Any, key: str, *, containing: Sequence[str] = ()) -> Any:
    """The value the SP's whoami JSON shows at `key`; else, when `containing` is given, the first value
    anywhere in the answer (a string, or the list holding it) that contains one of those strings, e.g.
    an SP that shows `{"givenName": ["Doe, John"]}`; else NOT_SHOWN."""
    if isinstance(data, dict) and key in data:
        return data[key]

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 8:
            return NOT_SHOWN
        if isinstance(node, str):
            return node if any(c in node for c in containing) else NOT_SHOWN
        if isinstance(node, list):
            for item in node:
                hit = walk(item, depth + 1)
                if hit is not NOT_SHOWN:
                    return node if isinstance(item, str) else hit
            return NOT_SHOWN
        if isinstance(node, dict):
            for v in node.values():
                hit = walk(v, depth + 1)
                if hit is not NOT_SHOWN:
                    return hit
        return NOT_SHOWN

    return walk(data) if containing else NOT_SHOWN


def shows(obs: Observation, data: Any, *keys: str) -> bool:
    """True when the whoami answer `data` has every field in `keys`. Otherwise each missing field
    becomes an unseen check on `obs` (inconclusive: the SP does not show what it granted, which is
    no failure of the SP) and the caller returns `obs` without judging the values."""
    missing = [k for k in keys if not (isinstance(data, dict) and k in data)]
    for k in missing:
        obs.check(f"the whoami answer shows '{k}'", None,
                  "the SP's whoami answer has no such field: what it granted cannot be read")
    return not missing
