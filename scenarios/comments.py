"""CMT: comments, processing instructions, CDATA sections and character references inside signed values.

The IdP genuinely signs a value that contains the split (the attacker's own identity, e.g.
`admin.N@domain<!---->.evilcorp`). The SP may refuse it or accept it as the full string; signing in
the part before the split (the victim) is the takeover.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from harness.context import ScenarioContext
from harness.registry import REJECT, scenario
from harness.verdict import Observation

from ._kit import fault, single_fault

FULL_TEXT = "Read the full text content of the element (all text nodes), never only the first one."


def _email_attr(ctx: ScenarioContext) -> str:
    return ctx.profile.attributes.email or "Email"


def _split_identity(ctx: ScenarioContext, faults_for: Callable[[str, str], Sequence[Any]]) -> Observation:
    """The attacker's legitimately signed identity is `<victim>.evilcorp`, split after `<victim>` by
    `faults_for(victim, suffix)`. Refused or accepted as the full string: pass; signing in `<victim>`:
    takeover (fail); anyone else: inconclusive."""
    domain = ctx.target.testdata.email_domain
    local = f"admin.{ctx.runtime.next_seed()}"
    victim, full = f"{local}@{domain}", f"{local}@{domain}.evilcorp"
    user = ctx.new_user(email=full, name_id=full)
    ctx.sp_login(user, faults_for(victim, ".evilcorp"))
    seen_nid = ctx.whoami_name_id()
    obs = ctx.observe(user, intended=victim, signed_as=full, store_check=False)
    obs.signed_ok = True  # the split sits inside the signed value: the full string is the real identity
    if seen_nid == victim:
        obs.signed_in = victim
        obs.note = "the SP stored the NameID only up to the split"
    elif obs.signed_in == victim:
        obs.note = "the SP read the identifier only up to the split"
    return obs


@scenario("CMT-01", "A comment inside the signed NameID never yields the truncated identity",
          category="xml", refs=("catalogue CMT-01", "CVE-2017-11427", "CVE-2017-11428", "CVE-2018-0489"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Read the full text content of NameID (all text nodes), never only the first.")
def cmt_01(ctx: ScenarioContext) -> Observation:
    return _split_identity(ctx, lambda victim, rest: [fault("nameid-comment", before=victim, after=rest)])


@scenario("CMT-02", "A comment inside a signed attribute value never yields the truncated value",
          category="xml", refs=("catalogue CMT-02", "python3-saml testNodeTextAttack"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Read the full text content of AttributeValue elements.")
def cmt_02(ctx: ScenarioContext) -> Observation:
    return _split_identity(ctx, lambda victim, rest: [fault("attr-comment", name=_email_attr(ctx))])


@scenario("CMT-03", "A processing instruction spliced into the signed NameID is refused",
          category="xml", refs=("catalogue CMT-03", "OneUptime #2988", "CVE-2025-54419", "CVE-2025-54369"),
          needs=("sp_initiated",), expect=REJECT, fix_hint="Keep canonicalization standard; never flatten PIs.")
def cmt_03(ctx: ScenarioContext) -> Observation:
    """After signing, part of the signed identity moves into a processing instruction (a correct c14n
    then breaks the digest). (a) The victim shape of CVE-2025-54419/54369: the attacker's own account
    is the victim's name plus one character (`admin.Nx@domain`, genuinely signed), the extra
    character moved into the PI; reading `admin.N@domain` is the takeover. (b) The local part:
    `<?p admin.N?>@domain`; reading `@domain` is the truncation. Signing in the genuinely signed
    identity is lax (the tampered message verified); refused: pass."""
    from harness.verdict import worse

    domain = ctx.target.testdata.email_domain
    seen = []
    for variant in ("a", "b"):
        if seen:
            ctx.restart()
        local = f"admin.{ctx.runtime.next_seed()}"
        if variant == "a":
            full, read, f = f"{local}x@{domain}", f"{local}@{domain}", fault("pi-swallow", start=len(local),
                                                                              end=len(local) + 1)
        else:
            full, read, f = f"{local}@{domain}", f"@{domain}", fault("pi-swallow", start=0, end=len(local))
        user = ctx.new_user(email=full, name_id=full)
        ctx.sp_login(user, [f])
        seen_nid = ctx.whoami_name_id()
        obs = ctx.observe(user, intended=read, signed_as=full, store_check=False)
        if seen_nid == read:
            obs.signed_in = read
        obs.note = (f"({variant}) " + ("victim: the extra character" if variant == "a" else "local part")
                    + f" of the signed {full!r} in a PI")
        seen.append(obs)
    return worse(ctx.expected, ctx.level, *seen)


@scenario("CMT-04", "A CDATA section inside the signed NameID never yields the truncated identity",
          category="xml", refs=("catalogue CMT-04", "XML 1.0 2.7 (CDATA is character data)",
                                "c14n: CDATA replaced by its text"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=FULL_TEXT)
def cmt_04(ctx: ScenarioContext) -> Observation:
    return _split_identity(ctx, lambda victim, rest: [fault("nameid-cdata-split")])


@scenario("CMT-05", "A character reference in the signed NameID is read once: decoded, never decoded twice",
          category="xml", refs=("catalogue CMT-05", "XML 1.0 4.1 (character references)"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Take the parser's text as it is; never HTML/XML-unescape an identifier a second time.")
def cmt_05(ctx: ScenarioContext) -> Observation:
    """(a) A NameID whose first character the IdP wrote as a character reference must read as the
    plain (decoded) identity; (b) the attacker's genuinely signed identity is the literal text
    `&#x61;dmin.N@domain`: signing in `admin.N@domain` means the SP decoded it twice (takeover)."""
    first = ctx.new_user()
    ctx.sp_login(first, [fault("nameid-char-ref")])
    a = ctx.observe(first, store_check=False)
    ctx.restart()
    domain = ctx.target.testdata.email_domain
    local = f"admin.{ctx.runtime.next_seed()}"
    victim, literal = f"{local}@{domain}", f"&#x61;{local[1:]}@{domain}"
    attacker = ctx.new_user(email=literal, name_id=literal)
    ctx.sp_login(attacker, [])
    obs = ctx.observe(attacker, intended=victim, signed_as=literal, store_check=False)
    obs.signed_ok = True
    if a.accepted and a.signed_in != a.intended:
        obs.check("a character reference reads as its character", False,
                  f"the NameID {a.intended!r} (first character as &#x..;) signed in as {a.signed_in!r}")
    obs.note = ("(a) char-ref NameID: " + ("signed in as " + repr(a.signed_in) if a.accepted else "refused")
                + f"; (b) literal {literal!r}")
    return obs


@scenario("CMT-06", "A comment inside the signed Audience or Issuer is compared as the full text",
          category="xml", refs=("catalogue CMT-06", "Core 2.5.1.4 MUST (Audience)", "Core 2.2.5 (Issuer)",
                                "vouch-sh PR #987"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Compare the full text of Audience and Issuer (comments excluded, all text nodes).")
def cmt_06(ctx: ScenarioContext) -> Observation:
    """The signed Audience reads `<this SP><!---->.evil.example`, then the Issuer `<the IdP><!---->.evil.example`:
    the full texts name another SP / another IdP, so both must be refused. (Recipient and Destination
    are XML attributes: they cannot hold a comment.)"""
    from harness.verdict import worse

    seen = []
    for where in ("audience", "issuer"):
        if seen:
            ctx.restart()
        user = ctx.new_user()
        ctx.sp_login(user, [fault("comment-in-value", where=where)])
        o = ctx.observe(user)
        o.note = f"comment in {where}"
        seen.append(o)
    return worse(ctx.expected, ctx.level, *seen)
