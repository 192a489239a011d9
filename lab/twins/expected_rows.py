"""Write the twins' rows of lab/expected.toml from a lab run and lab/truth.toml (maintainer tool).

    python -m lab.run --target <twin>... --update-expected --report-dir R   # verdicts seen
    python lab/twins/expected_rows.py R                                      # their reasons

Every row gets a reason traced to a fact the twin probe measured (lab/truth.toml) or to the
library's advisory; a fail/warn row with neither is printed and left UNREVIEWED (the lab then fails
on it until a maintainer writes the real reason). Run it only after reviewing the verdicts.
"""
from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB = HERE.parent
sys.path.insert(0, str(LAB.parent))
from lab.run import EXPECTED_FILE, EXPECTED_HEADER, Expectation, load_expected, write_expected  # noqa: E402

TWINS = sorted(p.parent.name for p in HERE.glob("*/lab.toml"))
LIBRARY = {"pysaml2": "pysaml2", "xml-crypto": "xml-crypto", "node-saml": "@node-saml/node-saml"}

# scenario -> the probe's fact (lab/twins/probe.py LENIENCIES) that measured the same leniency
FACT_FOR = {
    "DST-01": "accepts-wrong-destination", "DST-06": "accepts-wrong-destination",
    "DST-02": "accepts-no-destination", "DST-03": "accepts-empty-destination",
    "DST-05": "accepts-wrong-recipient", "DST-07": "accepts-no-bearer-confirmation",
    "AUD-02": "accepts-no-audience-restriction", "AUD-04": "accepts-second-restriction-other-sp",
    "TIME-04": "accepts-scd-without-notonorafter", "TIME-10": "accepts-no-conditions",
    "MAS-04": "accepts-no-authnstatement", "XML-01": "accepts-doctype", "XML-02": "accepts-doctype",
    "ALG-02": "accepts-rsa-sha1", "ALG-03": "accepts-sha1-digest",
    "CMT-03": "accepts-pi-swallows-local-part", "XML-02@pysaml2-4.4.0": "accepts-external-parameter-entity", "RPL-02": "accepts-replayed-assertion-id",
    "ISS-01": "accepts-wrong-assertion-issuer", "ISS-02": "accepts-wrong-assertion-issuer",
    "ISS-03": "accepts-wrong-assertion-issuer", "ISS-07": "accepts-wrong-response-issuer",
    "ATTR-03": "accepts-duplicated-email-attribute", "POS-07": "accepts-skew-plus-90s",
    "SIG-16": "accepts-signature-after-subject", "SIG-18": "accepts-duplicate-id-decoy",
    "SIG-12": "accepts-two-references", "SIG-14": "accepts-empty-reference-uri", "ALG-07": "accepts-c14n11",
    "ALG-08": "accepts-three-transforms",
}
# (twin prefix, scenario) -> the CVE whose probe fact explains the row
CVE_FOR = {
    ("pysaml2-4.9.0", "XSW-10"): "CVE-2020-5390", ("pysaml2-5.0.0", "XSW-10"): "CVE-2020-5390",
    ("pysaml2-6.4.1", "SIG-17"): "CVE-2021-21238", ("pysaml2-6.5.0", "SIG-17"): "CVE-2021-21238",
    ("xml-crypto-6.0.0", "PDF-08"): "CVE-2025-29774", ("xml-crypto-6.0.1", "PDF-08"): "CVE-2025-29774",
    ("pysaml2-4.4.0", "XML-05"): "CVE-2016-10149", ("pysaml2-4.5.0", "XML-05"): "CVE-2016-10149",
    ("node-saml-5.0.1", "CMT-03"): "CVE-2025-54419", ("node-saml-5.1.0", "CMT-03"): "CVE-2025-54419",
}
# the twins at the vulnerable version of their CVE (lab/twins/probe.py TWINS)
VULNERABLE = {"pysaml2-4.4.0", "pysaml2-4.9.0", "pysaml2-6.4.1", "xml-crypto-6.0.0", "node-saml-5.0.1"}
# advisories that explain a row without a probe of ours (kept for the independent check, issue 9)
ADVISORY_FOR = {
    ("pysaml2", "KEY-02"): ("pysaml2 < 6.5.0 is CVE-2021-21239 (GHSA-5p3x-r448-pc62: xmlsec1 takes any key the "
                            "document carries); not probed here, kept for the independent check",
                            ("4.4.0", "4.5.0", "4.9.0", "5.0.0", "6.4.1")),
    ("xml-crypto", "PDF-07"): ("xml-crypto 6.0.0 is CVE-2025-29775 (GHSA-x3m8-899r-f7c3: DigestValue comment); not probed "
                               "here, kept for the independent check", ("6.0.0",)),
}
# rows explained by the library's own code (read, not probed): (library, scenario) -> why
SOURCE_FOR = {
    ("xml-crypto", "PDF-04"): ("lax parsing only (the genuinely signed identity): xml-crypto resolves a Reference by any "
                               "attribute whose local name is ID (validateReference: //*[@*[local-name(.)='ID']=...]), so a "
                               "namespaced samlp:ID carrying the signed ID is the signed element (library source, not probed)"),
    ("node-saml", "PDF-04"): ("lax parsing only (the genuinely signed identity): node-saml 5.0.1 verifies with xml-crypto, which "
                              "resolves a Reference by any attribute whose local name is ID (library source, not probed); "
                              "5.1.0 reads only the signed bytes and refuses"),
    ("xml-crypto", "PDF-10"): ("the unstable x::Elem markup sits in samlp:Extensions, outside the signed Assertion, and the "
                               "twin reads only the signed Assertion: accepted with the genuine identity; xmldom parses the "
                               "QName leniently (library behaviour, not probed)"),
}
GENERIC_NO_REQUIRED = ("the generic profile requires no attribute, so the twin rightly signs in by NameID/Email; the "
                       "scenario does not yet skip when the profile requires nothing (as on the lab's other targets)")


def reason(twin: str, sid: str, verdict: str, result: dict, truth: dict) -> str | None:
    lib = next(k for k in LIBRARY if twin.startswith(k))
    version = twin[len(lib) + 1:]
    facts = truth.get(twin, {}).get("facts", {})
    ev = (result.get("evidence") or "").replace("\n", " ")[:140]
    if verdict == "not-tested":
        return f"not tested: {ev}"
    cve = CVE_FOR.get((twin, sid))
    if cve and cve.lower() in facts and facts[cve.lower()]["holds"]:
        if twin in VULNERABLE and verdict != "fail":
            return (f"{cve}, vulnerable version, but this scenario's shape does not reproduce the exploit (the probe's "
                    f"does: truth {twin}.{cve.lower()}: holds): {ev}")
        role = "vulnerable" if twin in VULNERABLE else "fixed"
        return f"{cve}, {role} version (truth {twin}.{cve.lower()}: holds): {ev}"
    if verdict == "pass":
        if result.get("expected") == "accept":
            return f"accepted as required (truth {twin}.golden-login: holds)"
        return f"refused as required: 403 page, no session (truth {twin}.refusal-signal: holds)"
    adv = ADVISORY_FOR.get((lib, sid))
    if adv and version in adv[1]:
        return f"{adv[0]}; samlconf: {ev}"
    if sid in ("ATTR-01", "ATTR-05"):
        return GENERIC_NO_REQUIRED
    if (lib, sid) in SOURCE_FOR:
        return f"{SOURCE_FOR[(lib, sid)]}; samlconf: {ev}"
    if lib == "node-saml" and sid == "CMT-06" and facts.get("accepts-wrong-assertion-issuer", {}).get("holds"):
        return (f"node-saml checks no Assertion Issuer at all (truth {twin}.accepts-wrong-assertion-issuer: holds; its "
                f"idpIssuer option applies to logout messages only), so a comment in the Issuer changes nothing; samlconf: {ev}")
    fact = FACT_FOR.get(f"{sid}@{twin}", FACT_FOR.get(sid))
    if fact and fact in facts and facts[fact]["holds"]:
        return f"real leniency of {LIBRARY[lib]} {version} as this minimal SP uses it, measured by the probe too (truth {twin}.{fact}: holds); samlconf: {ev}"
    return None


def main(argv: list[str]) -> int:
    # --samlconf-only: a row no probe fact explains gets an explicit "samlconf only" reason instead of
    # UNREVIEWED (for scenarios that landed after the probe's last update; to be measured next)
    samlconf_only = "--samlconf-only" in argv
    argv = [a for a in argv if a != "--samlconf-only"]
    report = Path(argv[0]) if argv else Path("lab-report")
    truth = tomllib.loads((LAB / "truth.toml").read_text())
    expected = load_expected()
    missing = 0
    for twin in TWINS:
        res_file = report / twin / "samlconf-results.json"
        if twin not in expected or not res_file.exists():
            continue
        results = {r["id"]: r for r in json.loads(res_file.read_text())["scenarios"]}
        for sid, e in list(expected[twin].items()):
            why = reason(twin, sid, e.verdict, results.get(sid, {}), truth)
            if why is None and samlconf_only:
                ev = (results.get(sid, {}).get("evidence") or "").replace("\n", " ")[:140]
                why = (f"seen by samlconf only, not yet measured by lab/twins/probe.py (scenario newer than the "
                       f"probe's cases): {ev}")
            if why is None:
                missing += 1
                print(f"UNREVIEWED {twin} {sid} {e.verdict}: {(results.get(sid, {}).get('evidence') or '')[:160]}")
                continue
            expected[twin][sid] = Expectation(verdict=e.verdict, why=why)
    write_expected(EXPECTED_FILE, expected, EXPECTED_HEADER)
    print(f"{missing} row(s) left UNREVIEWED")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
