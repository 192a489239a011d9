"""XML: DTDs, entities, XInclude, transforms that fetch, oversize and deep documents, encodings.

Every case watches the IdP's out-of-band URLs: an SP that fetched anything a message named fails,
whatever it did with the login. DoS shapes are bounded (small expansion factors, a fixed depth):
the scenario proves the SP refuses the shape, it never loads the SP.
"""
from __future__ import annotations

import time

from harness.context import ScenarioContext
from harness.errors import TargetError
from harness.registry import REJECT, scenario
from harness.verdict import Observation

from ._kit import each_variant, fault, login, single_fault, watch_fetches

PARSER = ("Parse SAML messages with DTDs forbidden, no entity expansion, no XInclude, no network "
          "access, and size and depth limits (defusedxml, or lxml with resolve_entities=False, "
          "no_network=True, load_dtd=False, huge_tree=False).")

single_fault("XML-03", "An external general entity (file://) as the NameID is refused and never expanded", ["xxe-file"],
             category="xml", refs=("catalogue XML-03", "CVE-2016-10127", "CVE-2017-9672", "CVE-2024-52806"),
             fix_hint=PARSER)
single_fault("XML-04", "A DOCTYPE naming only an external SYSTEM id (a watched URL) is refused and never fetched",
             ["doctype-system"], category="xml",
             refs=("catalogue XML-04", "CVE-2017-1000061", "pysaml2 issue #508 (xmlsec1 fetched the DTD)",
                   "accepting the DOCTYPE is lenient (SHOULD); fetching it is a MUST failure"),
             level="SHOULD", fix_hint=PARSER + " Check this also for the signature-verification step (xmlsec1 subprocess).")


@scenario("XML-05", "Nested internal entities (billion laughs, bounded to 10^4 expansions) are refused",
          category="xml", refs=("catalogue XML-05", "CVE-2016-10149", "pysaml2 issue #366"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=PARSER)
def xml_05(ctx: ScenarioContext) -> Observation:
    return each_variant(ctx, [
        ("(a) in a signed AttributeValue (the signatures cover the expanded text)",
         lambda: [fault("dtd-billion-laughs", levels=4)]),
        ("(b) in samlp:Extensions, outside the untouched signed Assertion (expanded before any signature check: "
         "the CVE-2016-10149 shape)", lambda: [fault("dtd-billion-laughs", levels=4, where="extensions")]),
    ])

single_fault("XML-06", "One internal entity referenced 100 times (quadratic blowup, bounded) is refused",
             ["dtd-quadratic(size=1000,count=100)"], category="xml", refs=("catalogue XML-06",), fix_hint=PARSER)
single_fault("XML-07", "An xi:include inside an AttributeValue is not processed", ["xinclude"], category="xml",
             refs=("catalogue XML-07", "Trail of Bits: SAML, a fractal of bad design (XInclude)"), fix_hint=PARSER)
TRANSFORMS = ("Allow only the enveloped-signature and exclusive c14n transforms, checked before any transform "
              "runs; never let a signature's transforms read files or the network.")


@scenario("XML-08", "An XSLT transform in a signature (SAML Raider's XSLT 2.0 exfiltration; an XSLT 1.0 document() "
          "read) is refused before it runs, nothing fetched", category="xml",
          refs=("catalogue XML-08", "Core 5.4.4 SHOULD NOT (other transforms)", "SAML Raider XSLT attack",
                "Brad Hill 2007, Command Injection in XML Signatures and Encryption", "CVE-2022-34169",
                "accepting a signature that carries the transform is lenient (SHOULD); running it (a fetch) is a MUST"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD", fix_hint=TRANSFORMS)
def xml_08(ctx: ScenarioContext) -> Observation:
    """SAML Raider's shape reaches XSLT 2.0 processors (Saxon: Java SPs); the XSLT 1.0 one libxslt
    (libxmlsec1, xmlsec1 CLI). Either fetch of the watched URL fails the case."""
    return each_variant(ctx, [
        ("SAML Raider's XSLT 2.0 stylesheet (unparsed-text of a canary file to a watched URL)",
         lambda: [fault("xslt-saml-raider")]),
        ("an XSLT 1.0 Transform reading a watched URL with document()", lambda: [fault("xslt-transform")]),
    ])


@scenario("XML-09", "An XSLT transform with an exponential template is refused before it runs", category="xml",
          refs=("catalogue XML-09", "Oblique Security 2026: Python SAML stacks pass any transform to libxmlsec1"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=TRANSFORMS)
def xml_09(ctx: ScenarioContext) -> Observation:
    """First the same recursive template at a harmless depth (2^4 calls) whose leaves read a watched
    URL: an SP that runs it fetches, and the exponential shape is never sent to it; then the
    catalogue's shape (n=27), its round trip timed."""
    obs = each_variant(ctx, [("the recursive template at n=4, its leaves reading a watched URL",
                              lambda: [fault("xslt-recursive-probe", n=4)])])
    if obs.accepted or not all(c.ok for c in obs.checks):
        return obs
    ctx.restart()
    user = ctx.new_user()
    fetched = watch_fetches(ctx)
    start = time.monotonic()
    try:
        login(ctx, user, [fault("xslt-dos")], "sp")
    except TargetError as exc:
        if "within the timeout" not in str(exc):
            raise
        # the DoS itself: the SP is still computing 2^27 template calls (or died) when the read
        # timeout ends; nothing else can be observed of it now, and that is the finding
        took = time.monotonic() - start
        obs = Observation(signed_in=None, intended=ctx.email_of(user))
        obs.note = f"the n=4 probe was refused unfetched; the n=27 template got no answer in {took:.0f} s"
        return obs.check("the SP answered the exponential XSLT transform (bounded CPU)", False,
                         f"no answer within the read timeout ({took:.0f} s): it ran the transform")
    took = time.monotonic() - start
    obs = fetched(ctx.observe(user))
    obs.note = f"the n=4 probe was refused unfetched; the n=27 template's round trip took {took:.1f} s"
    return obs


single_fault("XML-11", "A Reference URI pointing at a watched URL is refused and never fetched",
             ["sig-reference-uri(uri=oob)"], category="xml",
             refs=("catalogue XML-11", "pysaml2 4.6.0: SSRF via Reference URI"),
             fix_hint="Dereference same-document URIs only (xmlsec1 --enabled-reference-uris empty,same-doc).")
single_fault("XML-12", "A KeyInfo RetrievalMethod pointing at a watched URL is refused and never dereferenced",
             ["retrieval-method"], category="xml",
             refs=("catalogue XML-12", "python3-saml UNSUPPORTED_RETRIEVAL_METHOD",
                   "accepting it while verifying with the metadata key is lenient (SHOULD); any fetch is a MUST"),
             level="SHOULD", fix_hint="Never dereference RetrievalMethod; verify with the metadata key.")


@scenario("XML-13", "A 20 MB SAMLResponse is refused before parsing", category="xml",
          refs=("catalogue XML-13", "CVE-2025-54572", "a size limit is robustness advice, no SAML clause: SHOULD"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD",
          fix_hint="Limit the size of SAMLResponse (and of the request body) before decoding and parsing it.")
def xml_13(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    fetched = watch_fetches(ctx)
    start = time.monotonic()
    login(ctx, user, [fault("oversize", size=20_000_000)], "sp")
    took = time.monotonic() - start
    obs = fetched(ctx.observe(user))
    obs.note = f"the round trip took {took:.1f} s"
    return obs


single_fault("XML-14", "A document nested 100 000 elements deep is refused gracefully", ["deep-nesting(depth=100000)"],
             category="xml", refs=("catalogue XML-14", "Oblique Security 2026 (OOM DoS)"), graceful=True, level="SHOULD",
             fix_hint="Limit nesting depth and element/attribute counts in the parser (libxml2 without huge_tree); "
                      "refuse with a clear error, never a server error.")


@scenario("XML-15", "The same message in UTF-16 with a BOM never yields another identity", category="xml",
          refs=("Core 1.3.3", "catalogue XML-15 (parser-differential reasoning)"), needs=("sp_initiated",),
          expect=REJECT,
          fix_hint="Decode once, by the XML declaration and BOM, for both signature verification and reading.")
def xml_15(ctx: ScenarioContext) -> Observation:
    """Accepting it as the genuinely signed user is fine (consistent decoding); refusing it too."""
    user = ctx.new_user()
    fetched = watch_fetches(ctx)
    login(ctx, user, [fault("encoding-utf16")], "sp")
    me = ctx.email_of(user)
    obs = fetched(ctx.observe(user, intended=me, signed_as=me))
    obs.signed_ok = True
    obs.note = "UTF-16 with BOM, same content and signatures"
    return obs
