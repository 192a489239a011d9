"""XML, STA, MAS, NID, ATTR: parser tricks, statuses, assertion shape and attributes."""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import each_variant, fault, single_fault

single_fault("XML-01", "A message carrying a DOCTYPE is refused", ["dtd-harmless"], category="xml",
             refs=("SAML2Int SDP-G03 (producers MUST NOT emit DTDs)", "catalogue XML-01", "accepting it is lenient: the requirement is on the producer (SHOULD for the SP)",
                   "entity use and fetches are the MUST cases XML-02/03/04/05"),
             level="SHOULD", fix_hint="Parse SAML messages with DTDs forbidden (defusedxml, lxml with no DTD loading).")
single_fault("XML-02", "An external entity pointing at a watched loopback URL is refused and never fetched",
             ["xxe-external"], category="xml", refs=("catalogue XML-02", "catalogue XML-04", "CVE-2016-10149"),
             fix_hint="Parse with DTDs and external entities disabled; never fetch anything named in a message.")
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
# the three non-Success top-level codes (Core 3.2.2.2), each with a second-level code
STA01_CODES = (("Requester", "RequestDenied"), ("Responder", "NoPassive"), ("VersionMismatch", "RequestVersionTooHigh"))


@scenario("STA-01", "A non-Success top-level status (Requester, Responder, VersionMismatch) signs nobody in, "
          "also when the Response carries a signed Assertion", category="status",
          refs=("Core 3.2.2.2", "Prof 4.1.4.2", "catalogue STA-01", "catalogue POS-10"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Check the top-level StatusCode before anything else: anything but Success signs nobody in, "
                   "whatever the Response carries; show a meaningful error, never a server error.")
def sta_01(ctx: ScenarioContext) -> Observation:
    """The catalogue's case (each code, no Assertion: no session), then each code with the
    IdP's genuinely signed Assertion for the user: the status check itself, not merely the lack of
    an assertion, must refuse it."""
    def status(code: str, sub: str, with_assertion: bool) -> Any:
        return lambda: [fault("status", code=STATUS + code, subcode=STATUS + sub, with_assertion=with_assertion)]

    return each_variant(ctx, [(f"{code}/{sub}" + (" with a signed Assertion" if with_a else ", no Assertion"),
                               status(code, sub, with_a))
                              for with_a in (False, True) for code, sub in STA01_CODES])
single_fault("MAS-01", "A Success Response with zero assertions signs nobody in", ["zero-assertions"],
             category="assertion", refs=("Prof 4.1.4.2", "catalogue MAS-01"),
             fix_hint="Require exactly one Assertion.")
single_fault("MAS-04", "An Assertion without AuthnStatement is refused", ["no-authn-statement"],
             category="assertion", refs=("Prof 4.1.4.2 MUST", "catalogue MAS-04"),
             fix_hint="Require an AuthnStatement in the Web SSO bearer assertion.")
single_fault("MAS-06", "An Assertion without Subject is refused", ["subject-missing"], category="assertion",
             refs=("Prof 4.1.4.2 MUST", "catalogue MAS-06"), fix_hint="Require a Subject with a NameID.")
single_fault("NID-02", "An empty NameID is refused", ["nameid-empty"], category="nameid",
             refs=("catalogue NID-02",), fix_hint="Refuse empty identifiers.")


def _attr(ctx: ScenarioContext, which: str) -> str:
    return getattr(ctx.profile.attributes, which) or "Email"


def _required(ctx: ScenarioContext) -> str:
    """A required attribute of the profile: the email attribute when it is required, else the
    first one (the scenarios needing it are `not tested` under a profile that requires none)."""
    a = ctx.profile.attributes
    return a.email if a.email in a.required else a.required[0]


single_fault("ATTR-01", "A required attribute left out signs nobody in and creates no account",
             lambda ctx: [fault("attr-missing", name=_required(ctx))], category="attributes",
             needs=("sp_initiated", "required_attributes"),
             refs=("seed redis_cloud: 'Set up your SAML service provider app so the SAML assertion contains "
                   "the following attributes'", "seed redflag: 'the following attributes are required'",
                   "catalogue ATTR-01"),
             fix_hint="Refuse the login with a clear error when a required attribute is missing.")
single_fault("ATTR-03", "A duplicated attribute name is refused", lambda ctx: [fault("attr-duplicate",
             name=_attr(ctx, "email"), value=f"other@{ctx.target.testdata.email_domain}")],
             category="attributes", refs=("catalogue ATTR-03",),
             fix_hint="Refuse (or merge deterministically) duplicated attributes; never pick first or last silently.")
single_fault("ATTR-05", "Attribute names are case-sensitive: a case-changed required attribute is not taken",
             lambda ctx: [fault("attr-case", name=_required(ctx))], category="attributes",
             needs=("sp_initiated", "required_attributes"),
             refs=("seed redis_cloud: 'Attribute name (case-sensitive)'", "catalogue ATTR-05"),
             fix_hint="Match attribute names exactly as the contract spells them.")
