"""Truth probe for the lab's Shibboleth SP (run: python -m lab.probekit --target shibboleth-sp).

Every case is a fresh browser: SP-initiated login at /Shibboleth.sso/Login, the AuthnRequest read
from the redirect, a Response built and signed by the probe's own IdP (lab/probekit.py) posted to
the ACS, then the echo CGI /whoami (JSON `email` when there is a session, 401 when not)."""
from __future__ import annotations

from lab.probekit import Login, ProbeContext, SPPaths, standard_cases


def _error_page(lg: Login) -> str:
    page = lg.acs_page
    return f"{page[:40]} ... {page[page.find('in any email:'):][:200]}"


def _wait_for_shibd(ctx: ProbeContext) -> None:
    """shibd can crash on crafted input (and is restarted, as Debian's unit does): wait (at most 15 s)
    until a login redirects to the IdP again, so no fact is measured against a dead daemon."""
    import time

    b = ctx.browser()
    try:
        for _ in range(60):
            if b.http.get(ctx.base_url + "/Shibboleth.sso/Login?target=/whoami").status_code == 302:
                return
            time.sleep(0.25)
    finally:
        b.close()


def run(ctx: ProbeContext) -> None:
    ctx.settle = lambda: _wait_for_shibd(ctx)
    standard_cases(ctx, SPPaths(login="/Shibboleth.sso/Login?target=/whoami", acs="/Shibboleth.sso/SAML2/POST",
                                whoami="/whoami", entity_id=f"{ctx.base_url}/shibboleth"), _error_page)
    crash_cases(ctx)


def crash_cases(ctx: ProbeContext) -> None:
    """Does a crafted Reference crash shibd? Post it, then ask for a new login at once: while shibd
    is down mod_shib answers 500 ("failed socket call") instead of redirecting to the IdP."""
    from lxml import etree

    from lab.probekit import DS, SAML, SPPaths, attempt

    paths = SPPaths(login="/Shibboleth.sso/Login?target=/whoami", acs="/Shibboleth.sso/SAML2/POST",
                    whoami="/whoami", entity_id=f"{ctx.base_url}/shibboleth")

    def no_transforms(root: etree._Element, idp) -> bytes:  # noqa: ANN001
        ref = root.find(f".//{{{DS}}}Reference")
        ref.remove(ref.find(f"{{{DS}}}Transforms"))
        return etree.tostring(root)

    for key, hook, what in (("crashes-on-reference-without-transforms", no_transforms,
                             "a signed Assertion whose Reference has its Transforms removed"),):
        email, lg = attempt(ctx, paths, key, xml_hook=hook)
        b = ctx.browser()
        try:
            r = b.http.get(ctx.base_url + paths.login)
            after = r.status_code
        finally:
            b.close()
        ctx.fact(key, f"{what} (unauthenticated input) makes shibd exit: the login asked for right after it "
                 f"answers 500 -- measured: ACS {lg.acs_status}, next login {after}", after == 500,
                 lg.lines() + [f"GET {paths.login} right after -> {after}"])
        import time

        time.sleep(2)  # the lab's supervisor restarts shibd after 1 s (Debian: Restart=on-failure)
