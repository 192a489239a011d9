"""KEY and ALG cases that change the IdP metadata the SP trusts (through the target's `add_idp`
hook, capability `idp_admin`): the run's IdP configuration is replaced for the scenario and put
back afterwards, whatever happened.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import fault

NEEDS = ("sp_initiated", "idp_admin")


@contextmanager
def trusted_idp_metadata(ctx: ScenarioContext, metadata_xml: str) -> Iterator[tuple[int, Any]]:
    """Replace the IdP metadata the SP trusts for this run's configuration; yields the hook's
    (status, answer): a 4xx is the SP refusing the metadata. The original is always put back."""
    cfg = ctx.target.testdata.saml_config_id
    original = ctx.idp.metadata_xml().decode()
    try:
        yield ctx.runtime.call_hook_status("add_idp", idp_id=cfg, metadata_xml=metadata_xml)
    finally:
        ctx.runtime.call_hook("add_idp", idp_id=cfg, metadata_xml=original)


def _with_main_cert(ctx: ScenarioContext, cert_b64: str) -> str:
    """The IdP metadata with its main signing certificate replaced (the others stay)."""
    text = ctx.idp.metadata_xml().decode()
    if ctx.idp.key.cert_b64 not in text:
        raise ValueError("the IdP metadata does not carry the IdP certificate")
    return text.replace(ctx.idp.key.cert_b64, cert_b64)


@scenario("KEY-08", "IdP metadata whose KeyDescriptors carry no `use` still enforces signatures", category="signature",
          refs=("SAML Metadata 2.4.1.1 (no use = both signing and encryption)", "catalogue KEY-08",
                "CVE-2026-16443 (keycloak/keycloak#51471)"),
          needs=NEEDS, expect=REJECT,
          fix_hint="A KeyDescriptor without `use` is a signing key: keep requiring (and verifying) signatures.")
def key_08(ctx: ScenarioContext) -> Observation:
    plain = re.sub(r'\s+use="(signing|encryption)"', "", ctx.idp.metadata_xml().decode())
    with trusted_idp_metadata(ctx, plain) as (status, _):
        if status >= 400:
            return Observation(signed_in=None, intended=None, observable=False,
                               note=f"the SP refused IdP metadata without `use` (HTTP {status})")
        user = ctx.new_user()
        ctx.sp_login(user, [fault("sig-unsigned")])
        obs = ctx.observe(user)
    obs.note = "an unsigned Response after importing IdP metadata without `use`"
    return obs


@scenario("KEY-10", "An RSA-1024 IdP signing key is refused at configuration (or its signatures are)",
          category="signature", refs=("SAML2Int SDP-MD06 (RSA >= 2048)", "OWASP SAML", "catalogue KEY-10"),
          needs=NEEDS, expect=REJECT,
          fix_hint="Refuse IdP metadata whose signing key is RSA < 2048 bits (EC < 256), or at least never "
                   "accept its signatures.")
def key_10(ctx: ScenarioContext) -> Observation:
    from mock_idp.keys import ephemeral

    weak = ephemeral("samlconf weak idp key", key_size=1024)
    with trusted_idp_metadata(ctx, _with_main_cert(ctx, weak.cert_b64)) as (status, _):
        if status >= 400:
            return Observation(signed_in=None, intended=None,
                               note=f"the SP refused the metadata at configuration (HTTP {status})")
        user = ctx.new_user()
        ctx.sp_login(user, key=weak)
        obs = ctx.observe(user)
    obs.note = "the SP took the metadata; a login signed with the RSA-1024 key"
    return obs


@scenario("ALG-10", "An IdP with an EC P-256 key signing ecdsa-sha256 is accepted", category="signature",
          refs=("SAML2Int SDP-ALG01 (ecdsa-sha256)", "catalogue ALG-10"), needs=NEEDS, expect=ACCEPT,
          level="SHOULD", fix_hint="Support ECDSA (P-256, ecdsa-sha256) IdP keys.")
def alg_10(ctx: ScenarioContext) -> Observation:
    return login_with_new_idp_key(ctx, "ec", "ecdsa-sha256", "an EC key")


def login_with_new_idp_key(ctx: ScenarioContext, key_type: str, algorithm: str, what: str) -> Observation:
    """The IdP metadata's main signing key replaced by a fresh `key_type` key; a login signed with
    it by `algorithm`. The SP refusing the metadata is an observation without sign-in."""
    from mock_idp.keys import ephemeral

    key = ephemeral(f"samlconf {key_type} idp key", key_type=key_type)
    with trusted_idp_metadata(ctx, _with_main_cert(ctx, key.cert_b64)) as (status, _):
        if status >= 400:
            return Observation(signed_in=None, intended=None,
                               note=f"the SP refused IdP metadata with {what} (HTTP {status})")
        user = ctx.new_user()
        ctx.sp_login(user, key=key, algorithm=algorithm)
        return ctx.observe(user)


@scenario("KEY-07", "A Response naming another trusted IdP as Issuer, signed with this IdP's key, is refused",
          category="signature", refs=("OWASP SAML: validate that the signer is the authorized IdP", "catalogue KEY-07"),
          needs=NEEDS, expect=REJECT,
          fix_hint="Bind each key to its IdP: verify with the keys of the IdP the Issuer names (and the one the "
                   "request went to), never with any configured IdP's key.")
def key_07(ctx: ScenarioContext) -> Observation:
    from mock_idp.keys import ephemeral

    n = ctx.runtime.next_seed()
    other_entity, other = f"urn:samlconf:second-idp:{n}", ephemeral("samlconf second idp")
    md = ctx.idp.metadata_xml().decode().replace(ctx.idp.entity_id, other_entity)
    md = md.replace(ctx.idp.key.cert_b64, other.cert_b64)
    status, _ = ctx.add_idp(f"second{n}", md, check=False)  # removed after the scenario (delete_idp)
    if status >= 400:
        return Observation(signed_in=None, intended=None, observable=False,
                           note=f"the SP refused a second IdP configuration (HTTP {status})")
    user = ctx.new_user()
    ctx.sp_login(user, [fault("issuer-wrong", issuer=other_entity)])
    obs = ctx.observe(user)
    obs.note = f"Issuer {other_entity} (trusted, with its own key), signed with this run's IdP key"
    return obs


@scenario("KEY-09B", "IdP metadata whose validUntil has passed is not used: its key signs nobody in",
          category="signature",
          refs=("SAML Metadata 2.3.1 (validUntil: the expiration time of the metadata and everything in it)",
                "SAML2Int SDP-MD03 (catalogue META-03: validUntil within the threshold)",
                "catalogue KEY-09 (metadata trust: the metadata is the key's carrier)"),
          needs=NEEDS, expect=REJECT, level="SHOULD",
          fix_hint="Under metadata trust the metadata's validUntil is the key's expiry: refuse expired IdP metadata "
                   "at configuration, or refuse the sign-ins its keys verify; refresh the metadata instead.")
def key_09b(ctx: ScenarioContext) -> Observation:
    """KEY-09's metadata-trust reading: the certificate's own dates do not count (KEY-09), the
    metadata's validUntil does. A refusal at configuration (a 4xx from the hook) is a pass too."""
    from datetime import datetime, timedelta, timezone

    expired = datetime.now(timezone.utc) - timedelta(days=1)
    with trusted_idp_metadata(ctx, ctx.idp.metadata_xml(valid_until=expired).decode()) as (status, _):
        if status >= 400:
            return Observation(signed_in=None, intended=None,
                               note=f"the SP refused the expired metadata at configuration (HTTP {status})")
        user = ctx.new_user()
        ctx.sp_login(user)
        obs = ctx.observe(user)
    obs.note = f"the SP took IdP metadata with validUntil {expired:%Y-%m-%dT%H:%M:%SZ}; a valid login signed with its key"
    return obs
