"""Catalogue cases (`../shared/catalogue.md`) that no scenario implements because they cannot apply
to a Service Provider under test, each with the reason. `docs/scenarios.md` lists them (generated),
and `tests/test_catalogue_coverage.py` checks that every case of the covered categories has either a
scenario or an entry here, never both.

An entry is for a case that *cannot* apply to an SP (it tests an IdP, a static file the harness
never sees, ...), not for one that is merely hard to build: those stay pending in the test until
they have a scenario.
"""
from __future__ import annotations

NOT_APPLICABLE: dict[str, str] = {
    # --- the SP's own configuration, which nothing on the wire shows --------------------------------
    "META-03": "how the SP obtained and verified the IdP's metadata (signature, validUntil) is its own "
               "configuration; nothing it sends or accepts shows it (KEY scenarios check the resulting trust)",
    "META-04": "whether the SP pins the IdP's full certificate or a SHA-1 fingerprint is its configuration; from "
               "outside it would only show as accepting a colliding certificate, which needs a SHA-1 collision",
    "META-05": "python3-saml settings (strict, rejectDeprecatedAlgorithm, wantMessagesSigned) are library "
               "configuration; their effects are what the SIG, ALG and XML scenarios test",
    # --- no outcome can be wrong, or none can be observed ------------------------------------------
    "DST-09": "a MAY: checking SubjectConfirmationData/@Address against the client is optional, so refusing "
              "and accepting both conform (and every harness request comes from 127.0.0.1)",
    "SLO-12": "the SP ends its local session before sending its LogoutRequest (SDP-SP34; SLO-14 checks it), "
              "so accepting or refusing the IdP's LogoutResponse changes no state the harness can observe; "
              "a verdict from the SP's status page alone is not one",
    "SLO-13": "as SLO-12: an unsigned LogoutResponse, accepted or refused, leaves the same SP state",
    "SLO-15": "as SLO-12: a LogoutResponse without Status, accepted or refused, leaves the same SP state",
}
