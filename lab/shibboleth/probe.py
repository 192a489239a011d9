"""Truth probe for the lab's Shibboleth SP (run: python -m lab.probekit --target shibboleth-sp).

Every case is a fresh browser: SP-initiated login at /Shibboleth.sso/Login, the AuthnRequest read
from the redirect, a Response built and signed by the probe's own IdP (lab/probekit.py) posted to
the ACS, then the echo CGI /whoami (JSON `email` when there is a session, 401 when not)."""
from __future__ import annotations

from lab.probekit import Login, ProbeContext, SPPaths, standard_cases


def _error_page(lg: Login) -> str:
    page = lg.acs_page
    return f"{page[:40]} ... {page[page.find('in any email:'):][:200]}"


def run(ctx: ProbeContext) -> None:
    standard_cases(ctx, SPPaths(login="/Shibboleth.sso/Login?target=/whoami", acs="/Shibboleth.sso/SAML2/POST",
                                whoami="/whoami", entity_id=f"{ctx.base_url}/shibboleth"), _error_page)
