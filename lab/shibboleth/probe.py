"""Truth probe for the lab's Shibboleth SP (run: python -m lab.probekit --target shibboleth-sp).

Every case is a fresh browser: SP-initiated login at /Shibboleth.sso/Login, the AuthnRequest read
from the redirect, a Response built and signed by the probe's own IdP (lab/probekit.py) posted to
the ACS, then the echo page /whoami (JSON `email` when there is a session, 401 when not)."""
from __future__ import annotations

import json

from lab.probekit import Login, ProbeContext, Shape, build_response

LOGIN = "/Shibboleth.sso/Login?target=/whoami"


def _email(lg: Login) -> str | None:
    if lg.whoami_status != 200:
        return None
    try:
        return json.loads(lg.whoami).get("email")
    except ValueError:
        return None


def attempt(ctx: ProbeContext, tag: str, *, solicited: bool = True, **shape: object) -> tuple[str, Login]:
    email = ctx.user(tag)
    b = ctx.browser()
    try:
        acs = f"{ctx.base_url}/Shibboleth.sso/SAML2/POST"
        lg = b.start_login(ctx.base_url + LOGIN) if solicited else Login(acs=acs)
        s = Shape(email=email, acs=lg.acs or acs, audience=f"{ctx.base_url}/shibboleth",
                  in_response_to=lg.request_id if solicited else None)
        for k, v in shape.items():
            setattr(s, k, v)
        b.post_response(lg, s.acs, build_response(ctx.idp, s))
        b.look(lg, ctx.base_url + "/whoami")
    finally:
        b.close()
    return email, lg


def run(ctx: ProbeContext) -> None:
    email, lg = attempt(ctx, "golden")
    ctx.fact("golden-login", "a Response with a signed Assertion for the SP's own AuthnRequest signs the user in "
             "(whoami shows the asserted email)", _email(lg) == email,
             [f"AuthnRequest {lg.request_id} ACS {lg.acs}"] + lg.lines())

    email, lg = attempt(ctx, "unsigned", sign_assertion=False)
    ctx.fact("refusal-signal", "a refused Response (unsigned Assertion) gets HTTP 500 and Shibboleth's error page "
             "from the ACS, and no session (whoami 401)",
             lg.acs_status == 500 and lg.whoami_status == 401,
             lg.lines() + [f"ACS page: {lg.acs_page[:40]} ... {lg.acs_page[lg.acs_page.find('in any email:'):][:200]}"])

    email, lg = attempt(ctx, "wrong-audience", audience="https://other-sp.example/shibboleth")
    ctx.fact("refuses-wrong-audience", "an Assertion for another SP's Audience is refused (500, no session)",
             lg.acs_status == 500 and _email(lg) is None, lg.lines())

    email, lg = attempt(ctx, "unsolicited", solicited=False)
    ctx.fact("accepts-unsolicited", "an unsolicited Response (no InResponseTo, IdP-initiated) signs the user in",
             _email(lg) == email, lg.lines())

    email, lg = attempt(ctx, "irt-unknown", in_response_to="_never_requested_by_this_sp")
    ctx.fact("accepts-unknown-inresponseto", "a Response whose InResponseTo names no request this SP sent still "
             "signs the user in (no request correlation)", _email(lg) == email, lg.lines())

    email, lg = attempt(ctx, "irt-empty", in_response_to="")
    ctx.fact("accepts-empty-inresponseto", "a Response with no InResponseTo, posted in an SP-initiated login, "
             "signs the user in", _email(lg) == email, lg.lines())

    email, lg = attempt(ctx, "no-audience", with_audience=False)
    ctx.fact("accepts-no-audience-restriction", "an Assertion whose Conditions hold no AudienceRestriction signs "
             "the user in", _email(lg) == email, lg.lines())

    email, lg = attempt(ctx, "no-conditions", with_conditions=False)
    ctx.fact("accepts-no-conditions", "an Assertion without Conditions signs the user in", _email(lg) == email,
             lg.lines())

    email, lg = attempt(ctx, "response-signed", sign_assertion=False, sign_response=True)
    ctx.fact("accepts-signed-response-unsigned-assertion", "a signed Response carrying an unsigned Assertion "
             "signs the user in (the SP's metadata sets no WantAssertionsSigned)", _email(lg) == email, lg.lines())

    email, lg = attempt(ctx, "rsa-sha1", sig_alg="rsa-sha1", digest="sha1")
    ctx.fact("accepts-rsa-sha1", "an Assertion signed with RSA-SHA1 over a SHA-1 digest signs the user in",
             _email(lg) == email, lg.lines())

    _dup(ctx)


def _dup(ctx: ProbeContext) -> None:
    """Two Attribute elements named Email (the second with another value), signed together."""
    from lxml import etree

    from lab.probekit import SAML

    email = ctx.user("dup-attr")
    b = ctx.browser()
    try:
        lg = b.start_login(ctx.base_url + LOGIN)
        s = Shape(email=email, acs=lg.acs or "", audience=f"{ctx.base_url}/shibboleth", in_response_to=lg.request_id,
                  sign_assertion=False)
        root = etree.fromstring(build_response(ctx.idp, s))
        ats = root.find(f".//{{{SAML}}}AttributeStatement")
        clone = etree.fromstring(etree.tostring(ats.find(f"{{{SAML}}}Attribute")))
        clone.find(f"{{{SAML}}}AttributeValue").text = "other@example.com"
        ats.append(clone)
        ctx.idp.sign(root, root.find(f"{{{SAML}}}Assertion"))
        b.post_response(lg, lg.acs or "", etree.tostring(root))
        b.look(lg, ctx.base_url + "/whoami")
    finally:
        b.close()
    seen = _email(lg)
    ctx.fact("merges-duplicated-attribute", "two Attribute elements named Email are merged into one multi-valued "
             "attribute, and the user is signed in (whoami shows both values joined by ';')",
             seen is not None and "other@example.com" in seen and email in seen, lg.lines())
