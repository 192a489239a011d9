"""ALG: which signature, digest and canonicalization algorithms and transforms the SP accepts."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import each_variant, fault, login, single_fault

ALLOW = ("Allow-list the algorithms (rsa-sha256 or stronger, ecdsa-sha256; sha256+ digests; exclusive "
         "c14n) before verifying; never fall back to 'no verification' for an algorithm you do not know.")
DS = "http://www.w3.org/2000/09/xmldsig#"

single_fault("ALG-01", "An RSA-MD5 signature (really made with MD5 by the IdP key) is refused",
             ["resign(method=rsa-md5)"], category="signature",
             refs=("SAML2Int SDP-ALG01", "catalogue ALG-01"), fix_hint=ALLOW)
single_fault("ALG-06", "An unknown SignatureMethod URI is refused (no fallback to 'not verified')",
             lambda ctx: [fault("signature-method", uri="urn:none")], category="signature",
             refs=("XMLDSig core validation (fail closed)", "catalogue ALG-06"), fix_hint=ALLOW)
single_fault("ALG-07", "A signature canonicalized with inclusive c14n 1.1 (outside exclusive c14n) is refused",
             ["resign(c14n=c14n11)"], category="signature",
             refs=("Core 5.4.3 SHOULD (exclusive c14n)", "pysaml2 ALLOWED_CANONICALIZATIONS", "catalogue ALG-07"),
             fix_hint=ALLOW)


@scenario("ALG-08", "Reference transforms other than enveloped + exc-c14n (none, three, an XPath filter) are refused",
          category="signature",
          refs=("Core 5.4.4 SHOULD NOT (other transforms)", "pysaml2 sigver (1-2 transforms, enveloped required)",
                "catalogue ALG-08", "CVE-2020-5390"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=ALLOW)
def alg_08(ctx: ScenarioContext) -> Observation:
    return each_variant(ctx, [
        ("no Transforms (removed after signing: no valid signature can have none)",
         lambda: [fault("transforms", mode="none")]),
        ("three transforms (enveloped twice + exc-c14n), validly signed", lambda: [fault("resign", transforms="three")]),
        ("an XPath filter instead of enveloped-signature, validly signed", lambda: [fault("resign", transforms="xpath")]),
    ])


@scenario("ALG-05", "An HMAC SignatureMethod (keyed with the IdP's public certificate; truncated) is refused",
          category="signature",
          refs=("SAML2Int SDP-ALG01 (asymmetric signatures only)", "catalogue ALG-05", "CVE-2009-0217",
                "CVE-2021-21239"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Never accept a symmetric SignatureMethod from an IdP; the algorithm comes from your "
                   "allow-list, not from the message.")
def alg_05(ctx: ScenarioContext) -> Observation:
    return each_variant(ctx, [
        ("HMAC-SHA1 keyed with the IdP certificate", lambda: [fault("hmac-key-confusion")]),
        ("HMAC-SHA1 truncated to 8 bits (HMACOutputLength)", lambda: [fault("hmac-key-confusion", bits=8)]),
    ])


single_fault("XML-10", "An XPath transform (not(ancestor-or-self::ds:Signature)) in a valid signature is refused",
             ["resign(transforms=xpath)"], category="xml",
             refs=("Core 5.4.4 SHOULD NOT (transforms other than enveloped + exc-c14n)", "catalogue XML-10",
                   "pysaml2 sigver transform allow-list", "accepting it is lenient: the requirement is on the producer (SHOULD for the SP)"),
             level="SHOULD", fix_hint=ALLOW)


@scenario("ALG-04", "A real DSA-SHA1 signature, by a DSA key the SP's IdP metadata publishes, is refused",
          category="signature", refs=("SAML2Int SDP-ALG01", "python3-saml deprecated algorithms", "catalogue ALG-04"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=ALLOW)
def alg_04(ctx: ScenarioContext) -> Observation:
    """With the `add_idp` hook (idp_admin): the IdP's metadata is switched to a DSA-1024 key (the size
    dsa-sha1 is defined for) and the IdP signs with it: a generic verifier finds a valid signature, only
    an algorithm allow-list refuses it; an SP that refuses the DSA key at configuration passes.
    Without the hook, the weaker shape: the SignatureMethod relabelled dsa-sha1 after signing."""
    from .idp_metadata import login_with_new_idp_key

    if not ctx.has("idp_admin"):
        user = ctx.new_user()
        login(ctx, user, [fault("signature-method", uri=DS + "dsa-sha1")], "sp")
        obs = ctx.observe(user)
        obs.note = ("no add_idp hook: SignatureMethod relabelled dsa-sha1 after signing (a real DSA "
                    "signature needs the IdP metadata changed)")
        return obs

    obs = login_with_new_idp_key(ctx, "dsa", "dsa-sha1", "a DSA key")
    obs.note = "; ".join(x for x in (obs.note, "IdP metadata with a DSA-1024 key; Response and Assertion "
                                     "signed dsa-sha1 by it") if x)
    return obs


@scenario("ALG-09", "A Redirect-binding LogoutRequest really signed rsa-sha1 (SigAlg=rsa-sha1) by the IdP key does "
          "not end the session", category="signature",
          refs=("Bind 3.4.4.1 (SigAlg is signed with the message)", "SAML2Int SDP-ALG01", "catalogue ALG-09 (policy)"),
          needs=("sp_initiated", "slo"), expect=ACCEPT, level="SHOULD",
          fix_hint="Allow-list SigAlg on the Redirect binding too (rsa-sha256 or stronger, matching the key type); "
                   "SigAlg comes from the sender, the allow-list from you.")
def alg_09(ctx: ScenarioContext) -> Observation:
    """A fresh user signs in; the IdP sends a LogoutRequest by HTTP-Redirect whose query signature is a
    real RSA-SHA1 one (SigAlg=...#rsa-sha1). The session must survive (then the positive control: a
    correct rsa-sha256 LogoutRequest must end it)."""
    from .logout import _survives

    return _survives(ctx, [("signed rsa-sha1 by the IdP key (SigAlg=rsa-sha1)", {"algorithm": "rsa-sha1"})])
