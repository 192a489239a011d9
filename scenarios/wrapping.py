"""XSW: XML Signature Wrapping (SAML Raider's XSW1-8) and assertion cardinality."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import REJECT, scenario
from harness.verdict import Observation

from ._kit import fault, victim_of, wrapping

HINT = ("Use only the element the verified signature references (by ID, as the direct child it must "
        "be); refuse Responses with more than one Assertion.")
PAPER = "Somorovsky et al., On Breaking SAML (USENIX Security 2012)"

for n, what in [
    (1, "signed Response cloned into its own Signature"),
    (2, "signed Response cloned before its Signature"),
    (3, "evil Assertion inserted before the signed one"),
    (4, "signed Assertion nested inside an evil one"),
    (5, "evil Assertion in place, signed copy detached at the end"),
    (6, "signed copy inside the evil Assertion's Signature"),
    (7, "evil copy inside samlp:Extensions"),
    (8, "unsigned copy inside ds:Object"),
]:
    wrapping(f"XSW-0{n}", f"XSW{n}: {what} is refused", f"xsw-0{n}", category="wrapping",
             refs=(f"catalogue XSW-0{n}", f"SAML Raider applyXSW{n}", PAPER), fix_hint=HINT)


@scenario("XSW-11", "A second, unsigned Assertion for a victim after the signed one is refused",
          category="wrapping", refs=("SAML2Int SDP-IDP10 exactly one assertion", "catalogue XSW-11",
                                     "CVE-2022-41912"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=HINT)
def xsw_11(ctx: ScenarioContext) -> Observation:
    attacker, victim = ctx.new_user(), victim_of(ctx)
    ctx.sp_login(attacker, [fault("two-assertions", victim=victim)])
    return ctx.observe(attacker, intended=victim, signed_as=ctx.email_of(attacker))
