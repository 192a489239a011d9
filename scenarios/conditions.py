"""TIME, AUD, DST, ISS: validity windows, audience, destination/recipient and issuer checks."""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT

from ._kit import fault, single_fault

TIME_HINT = "Check NotBefore/NotOnOrAfter of Conditions and of the bearer SubjectConfirmationData, with a small skew."
AUD_HINT = "Require an AudienceRestriction and match the SP's entityID exactly in every AudienceRestriction."
DST_HINT = "Compare Response/@Destination and SubjectConfirmationData/@Recipient exactly with the ACS URL."
ISS_HINT = "Require the Issuer of Response and Assertion to be exactly the configured IdP's entityID."

for sid, title, f, refs in [
    ("TIME-01", "Conditions NotBefore in the future is refused", "conditions-not-yet-valid", "Core 2.5.1.2 MUST"),
    ("TIME-02", "Conditions NotOnOrAfter in the past is refused", "conditions-expired", "Core 2.5.1.2 MUST"),
    ("TIME-03", "Expired bearer SubjectConfirmationData is refused", "scd-expired", "Prof 4.1.4.3 MUST"),
    ("TIME-04", "Bearer SubjectConfirmationData without NotOnOrAfter is refused", "scd-no-notonorafter",
     "Prof 4.1.4.2 MUST"),
    ("TIME-06", "An inverted validity window (NotBefore after NotOnOrAfter) is refused", "conditions-inverted",
     "Core 2.5.1.2"),
    ("TIME-10", "An assertion without Conditions is refused", "conditions-missing", "Prof 4.1.4.2 MUST"),
]:
    single_fault(sid, title, [f], category="time", refs=(refs, f"catalogue {sid}"), fix_hint=TIME_HINT)

single_fault("POS-07", "Clock skew of 90 s either way is tolerated", ["clock-skew(seconds=90)"],
             category="time", refs=("SAML2Int SDP-G01 SHOULD allow skew", "catalogue POS-07"),
             expect=ACCEPT, level="SHOULD", fix_hint="Allow a few minutes of clock skew in both directions.")
single_fault("POS-07B", "Clock skew of -90 s (IdP behind) is tolerated", ["clock-skew(seconds=-90)"],
             category="time", refs=("SAML2Int SDP-G01 SHOULD allow skew", "catalogue POS-07"),
             expect=ACCEPT, level="SHOULD", fix_hint="Allow a few minutes of clock skew in both directions.")

for sid, title, f, refs in [
    ("AUD-01", "An assertion for another SP's audience is refused", "audience-wrong", "Core 2.5.1.4 MUST"),
    ("AUD-02", "An assertion without AudienceRestriction is refused", "audience-missing", "Prof 4.1.4.2 MUST"),
    ("AUD-04", "A second AudienceRestriction naming only another SP is refused", "audience-two-restrictions",
     "Core 2.5.1.4 (AND across restrictions)"),
    ("AUD-06", "A whitespace-only Audience is refused", "audience-empty", "Core 2.5.1.4"),
]:
    single_fault(sid, title, [f], category="audience", refs=(refs, f"catalogue {sid}"), fix_hint=AUD_HINT)
single_fault("AUD-03", "Several audiences including this SP are accepted", ["audience-extra"],
             category="audience", refs=("Core 2.5.1.4", "catalogue AUD-03"), expect=ACCEPT,
             fix_hint="Accept when any Audience in a restriction equals the SP's entityID.")

for sid, title, f, refs in [
    ("DST-01", "A Response with another Destination is refused", "destination-wrong", "Core 3.2.2 MUST"),
    ("DST-02", "A signed Response without Destination is refused", "destination-missing", "Bind 3.5.5.2 MUST"),
    ("DST-03", "An empty Destination is refused", "destination-empty", "Core 3.2.2"),
    ("DST-05", "A bearer Recipient that is not this ACS is refused", "recipient-wrong", "Prof 4.1.4.3 MUST"),
    ("DST-06", "A bearer SubjectConfirmationData without Recipient is refused", "recipient-missing",
     "Prof 4.1.4.2 MUST"),
    ("DST-07", "A Subject without bearer confirmation is refused", "no-bearer", "Prof 4.1.4.2 MUST"),
]:
    single_fault(sid, title, [f], category="destination", refs=(refs, f"catalogue {sid}"), fix_hint=DST_HINT)

for sid, title, f, refs in [
    ("ISS-01", "Response and Assertion from another IdP's entityID are refused", "issuer-wrong", "Prof 4.1.4.2 MUST"),
    ("ISS-02", "Assertion Issuer differing from the Response Issuer is refused", "assertion-issuer-mismatch",
     "Prof 4.1.4.2 MUST"),
    ("ISS-03", "An Assertion without Issuer is refused", "assertion-issuer-missing", "Core 2.3.3 MUST"),
    ("ISS-07", "A near-miss Response Issuer (Assertion Issuer right) is refused", "response-issuer-mismatch",
     "Prof 4.1.4.2 MUST (exact match)"),
]:
    single_fault(sid, title, [f], category="issuer", refs=(refs, f"catalogue {sid}"), fix_hint=ISS_HINT)


# --- MAS-07: a weaker authentication than the SP requires -----------------------------------------------
def _weaker(ctx: ScenarioContext) -> list[Any]:
    required = ctx.runtime.sp_policy.requested_authn_context
    ppt = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    return [fault("authn-context", cls=ppt if required != ppt else "urn:oasis:names:tc:SAML:2.0:ac:classes:Password")]


single_fault("MAS-07", "An Assertion with a weaker AuthnContextClassRef than the SP requires is refused", _weaker,
             category="assertion", needs=("sp_initiated", "requested_authn_context"),
             refs=("python3-saml failOnAuthnContextMismatch / AUTHN_CONTEXT_MISMATCH", "S2I SDP-SP07",
                   "Core 3.3.2.2.1 (RequestedAuthnContext, Comparison exact)", "catalogue MAS-07"),
             fix_hint="Compare the asserted AuthnContextClassRef with the class the SP requested (exact) and "
                      "refuse any other.")
