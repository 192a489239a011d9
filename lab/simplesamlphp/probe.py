"""Truth probe for the lab's SimpleSAMLphp SP (run: python -m lab.probekit --target simplesamlphp).

SP-initiated login at the app's /login.php (SimpleSAML\\Auth\\Simple::requireAuth), the Response
signed by the probe's own IdP posted to SimpleSAMLphp's ACS, then the app's /whoami.php."""
from __future__ import annotations

from lab.probekit import Login, ProbeContext, SPPaths, standard_cases

SP = "/simplesamlphp/module.php/saml/sp"


def _error_page(lg: Login) -> str:
    page = lg.acs_page
    i = page.find("Caused by")
    return page[:80] + (f" ... {page[i:][:160]}" if i >= 0 else "")


def run(ctx: ProbeContext) -> None:
    standard_cases(ctx, SPPaths(login="/login.php", acs=f"{SP}/saml2-acs.php/default-sp", whoami="/whoami.php",
                                entity_id=f"{ctx.base_url}{SP}/metadata.php/default-sp"), _error_page)
    unsigned_logout(ctx)
    from lab.ruby_saml.probe import attlist_namespace_confusion, void_canonicalization

    paths = SPPaths(login="/login.php", acs=f"{SP}/saml2-acs.php/default-sp", whoami="/whoami.php",
                    entity_id=f"{ctx.base_url}{SP}/metadata.php/default-sp")
    void_canonicalization(ctx, paths)
    void_canonicalization(ctx, paths, key="bad-namespace-char-takeover", at=b"<saml:Assertion ",
                          marker='<saml:Assertion xmlns:x="http://example.com\u0080" '.encode(),
                          what="a namespace URI with U+0080 on the Assertion")
    attlist_namespace_confusion(ctx, paths)


def unsigned_logout(ctx: ProbeContext) -> None:
    """Signed in by a valid Response, then an unsigned LogoutRequest for that NameID arrives at the
    SP's SLO endpoint by HTTP-Redirect (no Signature parameter): is the session still there?"""
    import base64
    import zlib
    from urllib.parse import urlencode

    from lab.probekit import EMAIL_FMT, PROBE_IDP, SAML, SAMLP, Shape, _id, _t, build_response, whoami_email

    email = ctx.user("unsigned-logout")
    b = ctx.browser()
    try:
        lg = b.start_login(ctx.base_url + "/login.php")
        s = Shape(email=email, acs=lg.acs or "", audience=f"{ctx.base_url}{SP}/metadata.php/default-sp",
                  in_response_to=lg.request_id)
        b.post_response(lg, s.acs, build_response(ctx.idp, s))
        b.look(lg, ctx.base_url + "/whoami.php")
        before = whoami_email(lg)
        slo = f"{ctx.base_url}{SP}/saml2-logout.php/default-sp"
        req = (f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{_id()}" Version="2.0" '
               f'IssueInstant="{_t()}" Destination="{slo}"><saml:Issuer>{PROBE_IDP}</saml:Issuer>'
               f'<saml:NameID Format="{EMAIL_FMT}">{email}</saml:NameID></samlp:LogoutRequest>')
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        raw = comp.compress(req.encode()) + comp.flush()
        r = b.http.get(slo + "?" + urlencode({"SAMLRequest": base64.b64encode(raw).decode()}))
        lines = lg.lines() + [f"GET {SP}/saml2-logout.php/default-sp?SAMLRequest=<unsigned> -> {r.status_code}"
                              + (f" Location {r.headers['location'][:70]}" if "location" in r.headers else "")]
        after = Login()
        b.look(after, ctx.base_url + "/whoami.php")
        lines.append(f"whoami -> {after.whoami_status} {after.whoami[:200]}")
    finally:
        b.close()
    ctx.fact("accepts-unsigned-logoutrequest", "signed in, then an unsigned LogoutRequest (HTTP-Redirect, no "
             "Signature) for that NameID ends the session -- measured: "
             f"before {'signed in' if before == email else 'not signed in'}, after "
             f"{'still signed in' if whoami_email(after) == email else 'no session'}",
             before == email and whoami_email(after) is None, lines)
