"""PROP: property-based scenarios (Hypothesis) for the contracts' attribute parsers.

Each scenario generates attribute values (`redisAccountMapping` pairs in both forms, `tenantid`
lists, roles and their aliases; with whitespace, case changes, other separators, unicode,
duplicates and empty values), sends each through the real mock IdP and the SP under test, and
checks three invariants on the SP's state:

1. the SP never answers with a server error (5xx);
2. it never grants an account, role or tenant that the assertion did not carry, under the most
   lenient reading (any of `,` `;` `|` or whitespace as a separator, spaces around `=` ignored,
   but names and roles compared exactly: `Owner`, `owner\\u200b` and `pocketstop1 ` with a no-break
   space are not `owner` and `pocketstop1`);
3. for well-formed input (the contract's own syntax: comma-separated or one AttributeValue per
   item, ASCII spaces around items, every item valid), it grants exactly what the contract says.

Hypothesis shrinks a failing input to a minimal one; the scenario reports it in its evidence (the
verdict's reason, and the IdP's Response for it in `sent`). The number of examples is bounded
(target file `[properties]`, $SAMLCONF_PROPERTY_EXAMPLES, `samlconf run --property-examples`);
generation is seeded by the run's seed, or fixed (derandomized) in CI.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import HealthCheck, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from harness.context import ScenarioContext
from harness.errors import HarnessError, TargetError, one_line
from harness.registry import ACCEPT, scenario
from harness.verdict import Observation

from .session import unobservable

RC_SEED = "seed redis_cloud"
RF_SEED = "seed redflag"


# --- the search ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    examples: int
    max_logins: int
    derandomize: bool


def budget(ctx: ScenarioContext) -> Budget:
    p = ctx.target.properties
    examples = p.examples
    env = os.environ.get("SAMLCONF_PROPERTY_EXAMPLES", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise HarnessError(f"SAMLCONF_PROPERTY_EXAMPLES={env!r}: give a number of examples >= 1")
        examples = int(env)
    derandomize = p.derandomize if p.derandomize is not None else bool(os.environ.get("CI"))
    if os.environ.get("SAMLCONF_PROPERTY_DERANDOMIZE", "").lower() in ("1", "true", "yes"):
        derandomize = True
    return Budget(examples, max(p.max_logins, examples), derandomize)


class _Counterexample(AssertionError):
    pass


def search(ctx: ScenarioContext, name: str, strategy: st.SearchStrategy[Any],
           one: Callable[[ScenarioContext, Any], str | None], describe: Callable[[Any], str],
           anchor: Callable[[ScenarioContext], Any]) -> Observation:
    """Run `one(ctx, example)` (a sign-in in a fresh session; returns why the invariant broke, or
    None) on generated examples; then a valid `anchor` sign-in the verdict is observed on."""
    b = budget(ctx)
    state = {"logins": 0, "held": 0}
    failures: list[tuple[Any, str, list[Any], list[str]]] = []
    fatal: list[BaseException] = []
    t0 = time.perf_counter()

    def prop(example: Any) -> None:
        if fatal or state["logins"] >= b.max_logins:
            return  # the bound on sign-ins (shrinking included): stop trying
        state["logins"] += 1
        ctx.restart()
        mark = len(ctx.plan_tokens)
        try:
            why = one(ctx, example)
        except TargetError as exc:
            if " answered HTTP 5" not in str(exc):
                fatal.append(exc)  # unreachable, timeout, ...: the run's error, not a finding
                return
            why = f"the SP answered a server error ({one_line(exc)})"
        errors = list(getattr(ctx.session, "server_errors", []))
        if errors:  # a 5xx to the SAML message: the driver takes it as a refusal; the invariant not
            why = f"the SP answered a server error ({errors[0]})"
        if why:
            failures.append((example, why, list(ctx.session.hops), ctx.plan_tokens[mark:]))
            raise _Counterexample(why)
        state["held"] += 1

    test = settings(max_examples=b.examples, derandomize=b.derandomize, database=None,
                    deadline=None, suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False, print_blob=False,
                    verbosity=Verbosity.quiet)(given(strategy)(prop))
    if not b.derandomize:
        test = seed(ctx.runtime.seed)(test)
    try:
        test()
    except _Counterexample:
        pass
    except HypothesisException as exc:  # e.g. Flaky: the SP answered the same input differently
        if not failures:
            raise HarnessError(f"property search {name}: {one_line(exc)}") from None
    if fatal:
        raise fatal[0]
    secs = time.perf_counter() - t0
    ctx.restart()
    user = anchor(ctx)
    obs = ctx.observe(user, store_check=False)
    how = "derandomized" if b.derandomize else f"seed {ctx.runtime.seed}"
    if failures:
        example, why, hops, tokens = failures[-1]  # Hypothesis replays the shrunk example last
        ctx.keep_evidence(hops, tokens + ctx.plan_tokens[-1:])
        obs.check(f"{name} holds for every generated input", False,
                  f"shrunk counterexample {describe(example)}: {why} "
                  f"[{state['logins']} sign-ins, {secs:.1f} s, {how}]")
    else:
        ctx.keep_evidence([], ctx.plan_tokens[-1:])
        obs.check(f"{name} holds for {state['held']} generated inputs ({secs:.1f} s, {how})", True)
    return obs


# --- shared generators ---------------------------------------------------------------------------
_PADS = ["", " ", "  ", "\t", "\u00a0"]
_XML_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=8)


def _values(draw: Any, tokens: list[str]) -> list[str]:
    """Put items into AttributeValues: one per item, all comma-joined, or a mixture; sometimes with
    another separator, a duplicated value or an empty one."""
    form = draw(st.sampled_from(["multi", "joined", "mixed"]))
    joiner = draw(st.sampled_from([",", ", ", " ,", ";", "|", " "]))
    if form == "multi" or len(tokens) < 2:
        values = list(tokens)
    elif form == "joined":
        values = [joiner.join(tokens)]
    else:
        cut = draw(st.integers(1, len(tokens) - 1))
        values = [joiner.join(tokens[:cut]), *tokens[cut:]]
    if draw(st.booleans()) and draw(st.booleans()):
        values.append(values[0])  # a duplicated value
    if draw(st.booleans()) and draw(st.booleans()):
        values.insert(draw(st.integers(0, len(values))), "")  # an empty AttributeValue
    return values


def _well_formed_values(draw: Any, tokens: list[str]) -> list[str]:
    """The contract's own forms: one AttributeValue per item, all comma-joined (", " too), or a
    mixture; ASCII spaces around items at most; sometimes a duplicated item."""
    if len(tokens) > 1 and draw(st.booleans()):
        tokens = [*tokens, draw(st.sampled_from(tokens))]
    tokens = [f"{p}{t}{p}" for t in tokens for p in [draw(st.sampled_from(["", " "]))]]
    form = draw(st.sampled_from(["multi", "joined", "mixed"]))
    joiner = draw(st.sampled_from([",", ", "]))
    if form == "multi" or len(tokens) < 2:
        return list(tokens)
    if form == "joined":
        return [joiner.join(tokens)]
    cut = draw(st.integers(1, len(tokens) - 1))
    return [joiner.join(tokens[:cut]), *tokens[cut:]]


def _lenient_tokens(values: list[str]) -> set[str]:
    """Every item any plausible reading could take from these values."""
    out: set[str] = set()
    for v in values:
        v = re.sub(r"\s*=\s*", "=", v)
        out.update(t for t in re.split(r"[,;|\s]+", v) if t)
    return out


def _contract_tokens(values: list[str]) -> list[str] | None:
    """The contract's own syntax: split on ',', ASCII spaces around items; None if any item is
    empty (then the input is not well-formed)."""
    out = [t.strip(" ") for v in values for t in v.split(",")]
    return None if not out or any(not t for t in out) else out


def _rep(values: list[str]) -> str:
    return "[" + ", ".join(ascii(v) for v in values) + "]"


# --- PROP-01: redisAccountMapping ------------------------------------------------------------------
def _rc_roles(ctx: ScenarioContext) -> list[str]:
    return list(ctx.profile.accounts.roles) if ctx.profile.accounts else []


def _mapping_strategy(accounts: list[str], roles: list[str]) -> st.SearchStrategy[list[str]]:
    good_acct = st.sampled_from(accounts)
    acct = st.one_of(good_acct, good_acct, st.from_regex(r"8[0-9]{1,5}", fullmatch=True),
                     st.sampled_from(["", "abc", "12 345", "-1", "１２３４５"]))
    good_role = st.sampled_from(roles)
    role = st.one_of(good_role, good_role,
                     good_role.map(str.upper), good_role.map(str.capitalize),
                     good_role.map(lambda r: r + "\u200b"), good_role.map(lambda r: r.replace("o", "\u043e")),
                     st.sampled_from(["admin", "*", "", "superuser"]), _XML_TEXT)

    @st.composite
    def well_formed(draw: Any) -> list[str]:
        accts = draw(st.permutations(accounts))[: draw(st.integers(1, len(accounts)))]
        return _well_formed_values(draw, [f"{a}={draw(good_role)}" for a in accts])

    @st.composite
    def mapping(draw: Any) -> list[str]:
        tokens = []
        for _ in range(draw(st.integers(1, 4))):
            pad = draw(st.sampled_from(_PADS))
            if draw(st.integers(0, 3)) == 0:  # not a pair at all: an account, a role, anything
                tokens.append(pad + draw(st.one_of(acct, role, _XML_TEXT)) + pad)
                continue
            sep = draw(st.sampled_from(["=", "=", " = ", ":", "=="]))
            tokens.append(f"{pad}{draw(acct)}{sep}{draw(role)}{pad}")
        return _values(draw, tokens)

    return st.one_of(well_formed(), mapping())


def _mapping_contract(values: list[str], roles: list[str], eligible: list[str]) -> dict[str, str] | None:
    """What the contract grants for well-formed input; None when the input is not well-formed."""
    tokens = _contract_tokens(values)
    if tokens is None:
        return None
    out: dict[str, str] = {}
    for t in tokens:
        m = re.fullmatch(r"([0-9]+)=([a-z_]+)", t)
        if not m or m.group(2) not in roles or m.group(1) not in eligible:
            return None
        if out.get(m.group(1), m.group(2)) != m.group(2):
            return None  # one account, two roles: the contract does not say
        out[m.group(1)] = m.group(2)
    return out


@scenario(
    "PROP-01",
    "redisAccountMapping, generated: never a 5xx, never an account or role not asserted, exactly the pairs of well-formed input",
    category="properties",
    refs=(f"{RC_SEED}: 'A single string that contains a comma-separated list of account/role pairs'",
          f"{RC_SEED}: 'Multiple strings, where each represents a single account/role pair'",
          f"{RC_SEED}: 'Key-value pair of a lowercase role name (owner, member, manager, "
          "billing_admin, or viewer)'", "catalogue ATTR-06", "catalogue ATTR-08", "catalogue ATTR-09",
          "catalogue ATTR-11"),
    needs=("sp_initiated", "account_mapping"),
    expect=ACCEPT,
    fix_hint="Read every AttributeValue, split each on ',', trim ASCII spaces, and grant a pair "
             "only when it is exactly ACCOUNT=role with a known lowercase role on an account "
             "SAML-enabled for this configuration; anything else grants nothing, never a 500.",
)
def prop_01(ctx: ScenarioContext) -> Observation:
    roles = _rc_roles(ctx)
    accounts = list(ctx.target.testdata.accounts)
    if not roles or not accounts:
        return unobservable("no account mapping roles or SAML-enabled accounts")
    attr = ctx.profile.attributes.account_mapping

    def one(ctx: ScenarioContext, values: list[str]) -> str | None:
        user = ctx.new_user().with_attributes(**{attr: values})
        ctx.sp_login(user)
        who = ctx.whoami()
        email = ctx.email_of(user)
        want = _mapping_contract(values, roles, accounts)
        if who is None:
            return f"well-formed input refused: the contract grants {want}" if want else None
        if who != email:
            return f"signed in {who!r}, the assertion was for {email!r}"
        me = ctx.whoami_data() or {}
        got = {str(k): str(v) for k, v in (me.get("accounts") or {}).items()}
        asserted = _lenient_tokens(values)
        extra = {a: r for a, r in got.items() if f"{a}={r}" not in asserted or a not in accounts}
        if extra:
            return f"granted {extra}, which the assertion did not carry"
        if want is not None and got != want:
            return f"granted {got}, the contract grants {want}"
        return None

    def anchor(ctx: ScenarioContext) -> Any:
        user = ctx.new_user(accounts=[f"{accounts[0]}={roles[-1]}"])
        ctx.sp_login(user)
        return user

    return search(ctx, "the redisAccountMapping property", _mapping_strategy(accounts, roles), one,
                  lambda v: f"{attr}={_rep(v)}", anchor)


# --- PROP-02: tenantid -------------------------------------------------------------------------------
def _tenant_strategy(tenants: list[str]) -> st.SearchStrategy[tuple[list[str], str]]:
    good = st.sampled_from(tenants)
    name = st.one_of(good, good, good.map(str.upper), good.map(str.capitalize),
                     good.map(lambda t: t.replace("o", "\u043e")), good.map(lambda t: t + "\u200b"),
                     st.sampled_from(["unknown-tenant", "*", "", "pocketstop"]), _XML_TEXT)

    @st.composite
    def well_formed(draw: Any) -> tuple[list[str], str]:
        ts = draw(st.permutations(tenants))[: draw(st.integers(1, len(tenants)))]
        return _well_formed_values(draw, ts), draw(st.sampled_from(ts))

    @st.composite
    def tenantid(draw: Any) -> tuple[list[str], str]:
        tokens = []
        for _ in range(draw(st.integers(1, 4))):
            pad = draw(st.sampled_from(_PADS))
            tokens.append(f"{pad}{draw(name)}{pad}")
        return _values(draw, tokens), draw(good)

    return st.one_of(well_formed(), tenantid())


@scenario(
    "PROP-02",
    "tenantid, generated: never a 5xx, never a tenant not asserted, exactly the tenants of well-formed input",
    category="properties",
    refs=(f"{RF_SEED}: 'you can include multiple tenantid values in the SAML assertion'",
          f"{RF_SEED}: 'the user can use the SAML login URL for any of the specified tenants'",
          "catalogue ATTR-08", "catalogue ATTR-11", "catalogue TEN-03"),
    needs=("sp_initiated", "tenants"),
    expect=ACCEPT,
    fix_hint="Split tenantid on ',' (and read every AttributeValue), trim ASCII spaces, compare "
             "tenant names exactly; grant only configured tenants of this IdP, and sign in only at "
             "a granted tenant's URL.",
)
def prop_02(ctx: ScenarioContext) -> Observation:
    tenants = list(ctx.target.testdata.tenants)
    if not tenants:
        return unobservable("no SAML-enabled tenants in testdata")
    attr = ctx.profile.attributes.tenant

    def one(ctx: ScenarioContext, example: tuple[list[str], str]) -> str | None:
        values, at = example
        user = ctx.new_user().with_attributes(**{attr: values})
        ctx.sp_login(user, tenant=at)
        who = ctx.whoami()
        email = ctx.email_of(user)
        tokens = _contract_tokens(values)
        want = sorted(set(tokens)) if tokens and set(tokens) <= set(tenants) and at in tokens else None
        if who is None:
            return f"well-formed input refused at ?saml={at}: the contract grants {want}" if want else None
        if who != email:
            return f"signed in {who!r}, the assertion was for {email!r}"
        me = ctx.whoami_data() or {}
        got = sorted(str(t) for t in me.get("tenants") or [])
        extra = [t for t in got if t not in _lenient_tokens(values)]
        if extra:
            return f"granted the tenants {extra}, which the assertion did not carry (granted {got})"
        if at not in got:
            return f"signed in at ?saml={at}, a tenant not granted (granted {got})"
        if want is not None and got != want:
            return f"granted {got}, the contract grants {want}"
        return None

    def anchor(ctx: ScenarioContext) -> Any:
        user = ctx.new_user(tenants=[tenants[0]])
        ctx.sp_login(user, tenant=tenants[0])
        return user

    return search(ctx, "the tenantid property", _tenant_strategy(tenants), one,
                  lambda e: f"{attr}={_rep(e[0])} at ?saml={e[1]}", anchor)


# --- PROP-03: role and its aliases -----------------------------------------------------------------
def _role_strategy(vocab: list[str], aliases: dict[str, str]) -> st.SearchStrategy[list[str]]:
    names = vocab + list(aliases)
    good = st.sampled_from(names)
    variant = st.one_of(good, good, good.map(str.upper), good.map(str.lower),
                        good.map(lambda r: r.replace(" ", "_")), good.map(lambda r: r.replace("_", " ")),
                        good.map(lambda r: r.replace(" ", "  ")), good.map(lambda r: r + "\u200b"),
                        good.map(lambda r: r.replace("a", "\u0430")),
                        st.sampled_from(["Owner", "admin", "*", "", "Editor,Administrator"]), _XML_TEXT)

    exact = st.one_of(st.sampled_from(vocab), st.sampled_from(list(aliases) or vocab)).map(lambda r: [r])

    @st.composite
    def role(draw: Any) -> list[str]:
        return [f"{p}{draw(variant)}{p}" for p in
                [draw(st.sampled_from(_PADS)) for _ in range(draw(st.integers(1, 2)))]]

    return st.one_of(exact, role())


@scenario(
    "PROP-03",
    "role, generated: never a 5xx, never a role not asserted (variants are not aliases), exactly the role or alias of well-formed input",
    category="properties",
    refs=(f"{RF_SEED}: 'The following roles can be assigned to users via the role attribute'",
          f"{RF_SEED}: 'If using Microsoft Entra ID, use Super_Administrator as the value'",
          "catalogue ATTR-06", "catalogue ATTR-08", "catalogue ATTR-09"),
    needs=("sp_initiated", "role_vocabulary"),
    expect=ACCEPT,
    fix_hint="Compare the role exactly with the vocabulary and the profile's aliases (after trimming "
             "spaces at most); refuse anything else, and a user with several different roles.",
)
def prop_03(ctx: ScenarioContext) -> Observation:
    roles = ctx.profile.roles
    vocab = list(roles.vocabulary) if roles else []
    aliases = dict(roles.aliases) if roles else {}
    attr = ctx.profile.attributes.role
    if not vocab or not attr:
        return unobservable("no role vocabulary")

    def one(ctx: ScenarioContext, values: list[str]) -> str | None:
        user = ctx.new_user().with_attributes(**{attr: values})
        ctx.sp_login(user)
        who = ctx.whoami()
        email = ctx.email_of(user)
        want = None
        if len(values) == 1 and values[0] in vocab:
            want = values[0]
        elif len(values) == 1 and values[0] in aliases:
            want = aliases[values[0]]
        if who is None:
            return f"well-formed input refused: the contract gives the role {want!r}" if want else None
        if who != email:
            return f"signed in {who!r}, the assertion was for {email!r}"
        got = (ctx.whoami_data() or {}).get("role")
        asserted = {v.strip() for v in values} | {aliases[v.strip()] for v in values if v.strip() in aliases}
        if got not in asserted or got not in vocab:
            return f"gave the role {got!r}, which the assertion did not carry"
        if want is not None and got != want:
            return f"gave the role {got!r}, the contract gives {want!r}"
        return None

    def anchor(ctx: ScenarioContext) -> Any:
        user = ctx.new_user(role=vocab[-1])
        ctx.sp_login(user)
        return user

    return search(ctx, "the role property", _role_strategy(vocab, aliases), one,
                  lambda v: f"{attr}={_rep(v)}", anchor)
