"""Truth probe for the lab's ruby-saml SP (run: python -m lab.probekit --target ruby-saml).

SP-initiated login at the Rack app's /login (Authrequest#create), the Response signed by the
probe's own IdP posted to /acs (Response#is_valid?), then /whoami."""
from __future__ import annotations

from lab.probekit import ProbeContext, SPPaths, standard_cases


def run(ctx: ProbeContext) -> None:
    standard_cases(ctx, SPPaths(login="/login", acs="/acs", whoami="/whoami",
                                entity_id=f"{ctx.base_url}/metadata"))
