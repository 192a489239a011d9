"""STA, MAS, ISS, NID and POS: status codes, assertion cardinality, issuers, NameIDs and the
positive baselines an SP must accept (false rejects are interop bugs).

Mostly one fault on a valid baseline (scenarios/_kit.py `single_fault`); MAS-02 builds its second,
genuinely signed Assertion from a Response the IdP issued for another user.
"""
from __future__ import annotations

from typing import Any

from lxml import etree

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import fault, single_fault, victim_of, watch_fetches

STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
STA_HINT = "Check the top-level StatusCode first: anything but Success signs nobody in and carries no assertion."
ISS_HINT = "Require exactly one Issuer, equal to the configured IdP's entityID, with Format omitted or entity."
NID_HINT = ("Validate the NameID as its Format defines it (Core 8.3): persistent at most 256 characters, "
            "qualifiers naming this IdP and this SP, emailAddress an addr-spec only.")

# --- STA ---------------------------------------------------------------------------------------------
single_fault("STA-02", "An error status (Responder) carrying a valid signed Assertion signs nobody in",
             lambda ctx: [fault("status", code=STATUS + "Responder", with_assertion=True)],
             category="status", refs=("Prof 4.1.4.2 MUST NOT include assertions with an error", "catalogue STA-02"),
             fix_hint=STA_HINT)
single_fault("STA-03", "A Response without Status is refused", ["status-missing"], category="status",
             refs=("Core 3.2.2 (Status required)", "catalogue STA-03", "accepting it is lenient: the requirement is on the producer (SHOULD for the SP)"),
             level="SHOULD", fix_hint=STA_HINT)
single_fault("STA-04", "An illegal top-level StatusCode (a second-level code) with an Assertion is refused",
             ["status-top-level"], category="status",
             refs=("Core 3.2.2.2 (top-level value MUST be from the top-level list)", "catalogue STA-04"),
             fix_hint=STA_HINT)
single_fault("POS-10", "An error status (Responder/AuthnFailed, no assertion) signs nobody in, gracefully",
             ["status"], category="status", refs=("S2I SDP-SP11", "Core 3.2.2.2", "catalogue POS-10"),
             fix_hint=STA_HINT + " Show the user a meaningful error, never a server error.", graceful=True,
             level="SHOULD")

STA05_MARK = "<script>alert('samlconf-sta05')</script>"


@scenario("STA-05", "A StatusMessage carrying markup is never reflected unescaped into a page",
          category="status", refs=("OWASP input validation", "CWE-79", "catalogue STA-05"),
          needs=("sp_initiated",), expect=ACCEPT,
          fix_hint="HTML-encode StatusMessage/StatusDetail wherever they are shown, and bound their length.")
def sta_05(ctx: ScenarioContext) -> Observation:
    pages = []
    for faults in ([fault("status-message", message=STA05_MARK)],
                   [fault("status", code=STATUS + "Responder"), fault("status-message", message=STA05_MARK)]):
        ctx.restart()
        user = ctx.new_user()
        page = ctx.sp_login(user, faults)
        pages.append((page.url, getattr(page, "text", "") or ""))
    obs = Observation(signed_in=ctx.whoami(), intended=ctx.email_of(user),
                      refusal_ok="an error status signs nobody in")
    hit = [url for url, text in pages if STA05_MARK in text]
    return obs.check("the StatusMessage markup was not reflected", not hit,
                     f"the page {hit[0] if hit else ''} carries {STA05_MARK!r} unescaped", always=True)


# --- ISS ---------------------------------------------------------------------------------------------
single_fault("ISS-04", "A signed Response without Issuer is refused", ["response-issuer-missing"],
             category="issuer", refs=("Prof 4.1.4.2 MUST (Issuer when the Response is signed)", "catalogue ISS-04"),
             fix_hint=ISS_HINT)
single_fault("ISS-05", "An Issuer with a Format other than entity is refused", ["issuer-format"], category="issuer",
             refs=("Prof 4.1.4.2 MUST on the IdP (Format omitted or entity)", "catalogue ISS-05", "an issuer-side constraint: an SP that accepts it is lenient (SHOULD refuse), not broken"),
             level="SHOULD", fix_hint=ISS_HINT)
single_fault("ISS-06", "A Response with two Issuer elements is refused", ["issuer-duplicate"], category="issuer",
             refs=("Core 3.2.2 (one Issuer)", "python3-saml ISSUER_MULTIPLE_IN_RESPONSE", "catalogue ISS-06",
                   "accepting it is lenient: the requirement is on the producer (SHOULD for the SP)"), level="SHOULD", fix_hint=ISS_HINT)


# --- MAS ---------------------------------------------------------------------------------------------
@scenario("MAS-02", "Two validly signed Assertions for different subjects in one Response are refused",
          category="assertion", refs=("Prof 4.1.4.2 (all assertions refer to the same principal)", "S2I SDP-IDP10",
                                      "CVE-2022-41912", "catalogue MAS-02"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Require exactly one Assertion; read the user only from the assertion whose signature you verified.")
def mas_02(ctx: ScenarioContext) -> Observation:
    from mock_idp.faults import Fault

    attacker = ctx.new_user()
    victim_email = victim_of(ctx)
    victim = ctx.new_user(email=victim_email, name_id=victim_email)

    def insert_first(root: etree._Element, fctx: Any) -> None:
        # the victim's Assertion, genuinely signed by the IdP for the same request and ACS
        other = fctx.idp.issue_response(ctx.runtime.sp_entity_id, victim, acs_url=fctx.spec.acs_url,
                                        in_response_to=fctx.spec.in_response_to)
        captured = etree.fromstring(other.xml).find(f"{{{SAML}}}Assertion")
        root.find(f"{{{SAML}}}Assertion").addprevious(captured)

    fetched = watch_fetches(ctx)
    ctx.sp_login(attacker, [Fault("mas-02-second-signed-assertion", "the victim's signed Assertion first",
                                  signed=insert_first)])
    obs = fetched(ctx.observe(attacker, intended=victim_email, store_check=False))
    obs.note = f"the victim's genuinely signed Assertion ({victim_email}) placed before the attacker's"
    return obs


single_fault("MAS-03", "A plaintext Assertion next to a genuine EncryptedAssertion is refused",
             ["assertion-and-encrypted"], category="assertion", needs=("sp_initiated", "encryption_key"),
             refs=("S2I SDP-IDP10 (exactly one assertion)", "CVE-2024-9487 area", "catalogue MAS-03"),
             fix_hint="Count Assertion and EncryptedAssertion together: exactly one.")
single_fault("MAS-05", "An Assertion with two AuthnStatements is refused", ["two-authn-statements"],
             category="assertion", refs=("S2I SDP-IDP10 (exactly one AuthnStatement)", "catalogue MAS-05"),
             level="SHOULD", fix_hint="Require exactly one AuthnStatement (saml2int).")


# --- NID ---------------------------------------------------------------------------------------------
def _long_persistent(ctx: ScenarioContext) -> list[Any]:
    return [fault("nameid-format", format="persistent"), fault("nameid-value", value="p" + "x" * 256)]


single_fault("NID-04", "A persistent NameID longer than 256 characters is refused", _long_persistent,
             category="nameid", refs=("Core 8.3.7 MUST NOT exceed 256 characters (on the IdP)", "catalogue NID-04",
                                      "an issuer-side constraint: an SP that accepts it is lenient (SHOULD refuse), not broken"), level="SHOULD", fix_hint=NID_HINT)
single_fault("NID-05", "A NameID whose NameQualifier names another IdP is refused", ["name-qualifier"],
             category="nameid", refs=("Core 8.3.7 (NameQualifier is the IdP that generated it)", "catalogue NID-05",
                                      "an issuer-side constraint: an SP that accepts it is lenient (SHOULD refuse), not broken"), level="SHOULD", fix_hint=NID_HINT)
single_fault("NID-06", "A NameID whose SPNameQualifier names another SP is refused",
             lambda ctx: [fault("name-qualifier", name_qualifier=ctx.idp.entity_id,
                                sp_name_qualifier="https://other-sp.example.com/saml/metadata")],
             category="nameid", refs=("Core 8.3.7 (SPNameQualifier)", "python3-saml SP_NAME_QUALIFIER_NAME_MISMATCH",
                                      "catalogue NID-06", "an issuer-side constraint: an SP that accepts it is lenient (SHOULD refuse), not broken"),
             level="SHOULD", fix_hint=NID_HINT)


@scenario("NID-07", "An emailAddress NameID that is not a bare addr-spec (display name, comment) is refused",
          category="nameid", refs=("Core 8.3.2 (no phrase, no comment, no angle brackets)",
                                   "PortSwigger 'Splitting the email atom'", "catalogue NID-07",
                                   "an issuer-side constraint: an SP that accepts it is lenient (SHOULD refuse), not broken"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD", fix_hint=NID_HINT)
def nid_07(ctx: ScenarioContext) -> Observation:
    domain = ctx.target.testdata.email_domain
    obs = None
    for i, shape in enumerate(("Admin <{v}>", "{v} (x)", '"{l} x"@{d}')):
        if i:
            ctx.restart()
        user = ctx.new_user()
        email = ctx.email_of(user)
        local = email.split("@", 1)[0]
        value = shape.format(v=email, l=local, d=domain)
        ctx.sp_login(user, [fault("nameid-format", format="email"), fault("nameid-value", value=value)])
        obs = ctx.observe(user, store_check=False)
        if obs.accepted:
            obs.note = f"emailAddress NameID {value!r} was accepted"
            return obs
    assert obs is not None
    return obs


single_fault("NID-11", "A BaseID in place of NameID is refused", ["nameid-baseid"], category="nameid",
             refs=("S2I-0.2 (MUST NOT include BaseID)", "catalogue NID-11"), fix_hint=NID_HINT)


# --- POS ---------------------------------------------------------------------------------------------
@scenario("POS-01", "The golden SP-initiated login (signed Response and Assertion) signs the user in",
          category="interop", refs=("Prof 4.1.4.2 / 4.1.4.3", "S2I SDP-SP01/02/08, SDP-IDP09/10", "catalogue POS-01"),
          needs=("sp_initiated",), expect=ACCEPT,
          fix_hint="Accept a Response shaped as the Web Browser SSO profile describes, and provision the user.")
def pos_01(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.sp_login(user, sign_response=True, sign_assertion=True)
    return ctx.observe(user)


@scenario("POS-02", "The golden IdP-initiated login with a same-origin RelayState lands on that path "
          "(where the contract allows IdP-initiated SSO)", category="interop",
          refs=("Prof 4.1.4.3 (unsolicited)", "S2I SDP-SP21", "catalogue POS-02",
                "seed redflag: 'We do not support Identity Provider (IdP)-initiated SAML'"),
          needs=("idp_initiated",), expect={"*": ACCEPT, "redflag": REJECT},
          fix_hint="Accept unsolicited Responses only where the contract allows them, then redirect to the "
                   "RelayState's same-origin path.")
def pos_02(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    page = ctx.idp_login(user, relay_state="/app/dashboard")
    obs = ctx.observe(user)
    if obs.accepted:
        final = getattr(page, "url", "") or ""
        # no SAML clause makes the SP go to the RelayState: landing there is the expected courtesy (SHOULD)
        obs.check("the browser landed on /app/dashboard", "/app/dashboard" in final, f"ended on {final}",
                  level="SHOULD")
    return obs


single_fault("POS-05", "A signed Response with an EncryptedAssertion (signed inner Assertion) is accepted",
             ["encrypted-assertion"], category="interop", needs=("sp_initiated", "encryption_key"),
             refs=("S2I SDP-SP10, SDP-IDP11, SDP-ALG01", "catalogue POS-05"),
             expect=ACCEPT, fix_hint="Decrypt EncryptedAssertion with the SP's encryption key (AES-GCM, RSA-OAEP).")
single_fault("POS-06", "Benign XML variations (saml2/samlp2 prefixes, pretty-printing, fractional seconds) are accepted",
             ["benign-variations"], category="interop",
             refs=("Core 1.3.3", "SAML-Toolkits/php-saml#559", "catalogue POS-06"), expect=ACCEPT,
             fix_hint="Use a namespace-aware XML parser and xs:dateTime parsing with fractional seconds.")
