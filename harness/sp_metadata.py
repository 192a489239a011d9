"""The SP's declared policies: read from its metadata (safely), overridden by the target file.

SAML metadata states what an SP promises and needs: `WantAssertionsSigned` and
`AuthnRequestsSigned` on the SPSSODescriptor (Metadata 2.4.4), its signing and encryption keys,
the NameID formats it asks for, its ACS and single logout endpoints with their bindings. Scenarios
read these as expectations: a refusal the SP declared is `info`, a promise it breaks is `fail`
(`WantAssertionsSigned="true"` and an unsigned Assertion accepted). What metadata cannot say
(that the SP requires a signed samlp:Response) or says wrongly, the target file's `[sp.policy]`
states; the target file wins.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from mock_idp.metadata import Endpoint

    from .target import Target

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@dataclass(frozen=True)
class SPPolicy:
    """What the SP declares. A None policy value means "not declared" (the metadata is silent and
    the target file sets nothing); `*_from` says where a declared value came from, for evidence."""

    entity_id: str
    want_assertions_signed: bool | None = None
    want_assertions_signed_from: str = "not declared"
    authn_requests_signed: bool | None = None
    require_signed_response: bool | None = None
    require_signed_response_from: str = "not declared"
    require_encrypted_assertions: bool | None = None
    requested_authn_context: str | None = None  # target file only ([sp.policy]; MAS-07)
    requires_name_id: bool | None = None  # target file only ([sp.policy]; NID-01)
    request_lifetime_seconds: int | None = None  # target file only ([sp.policy]; IRT-08)
    name_id_format: str | None = None  # target file only ([sp.policy]; NID-03): NameIDPolicy Format
    signing_certs: tuple[str, ...] = ()  # base64 DER
    encryption_certs: tuple[str, ...] = ()  # KeyDescriptor use="encryption" or no use
    name_id_formats: tuple[str, ...] = ()
    acs: tuple["Endpoint", ...] = ()
    slo: tuple["Endpoint", ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def wants_signed_assertions(self) -> bool:
        return self.want_assertions_signed is True

    @property
    def requires_signed_response(self) -> bool:
        return self.require_signed_response is True

    @property
    def requires_encrypted_assertions(self) -> bool:
        return self.require_encrypted_assertions is True

    def describe_want_assertions_signed(self) -> str:
        if self.want_assertions_signed is None:
            return "the SP's metadata does not set WantAssertionsSigned"
        return f"WantAssertionsSigned={str(self.want_assertions_signed).lower()} ({self.want_assertions_signed_from})"

    def describe_require_signed_response(self) -> str:
        if not self.require_signed_response:
            return "the SP does not declare that it requires a signed Response"
        return f"the SP requires a signed samlp:Response ({self.require_signed_response_from})"


    def declared(self, keys: "tuple[str, ...] | list[str]" = ()) -> list[str]:
        """The declared policies named by `keys` (all when empty), each with where it came from:
        the SP's metadata or the target file's `[sp.policy]` (and what that overrides)."""
        want = set(keys or POLICY_CAPABILITIES)
        out: list[str] = []
        if "want_assertions_signed" in want and self.want_assertions_signed is not None:
            out.append(f"WantAssertionsSigned={str(self.want_assertions_signed).lower()} "
                       f"({self.want_assertions_signed_from})")
            out += [n for n in self.notes if "want_assertions_signed" in n]
        if "require_signed_response" in want and self.require_signed_response is not None:
            out.append(f"require_signed_response={str(self.require_signed_response).lower()} "
                       f"({self.require_signed_response_from})")
        if "encryption_key" in want and self.encryption_certs:
            out.append(f"{len(self.encryption_certs)} encryption key(s) (metadata: KeyDescriptor)")
        return out


# capabilities that come from what the SP declares (harness/runtime.py: Runtime.capabilities)
POLICY_CAPABILITIES = ("want_assertions_signed", "require_signed_response", "encryption_key")


class _Undeclared:
    """A runtime whose SP declares nothing: to tell whether a scenario's `expect_when` follows
    the SP's declared policy (the answer changes) or something else (the profile, the target)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self.sp_policy = SPPolicy(entity_id=runtime.sp_policy.entity_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


def expectation_source(spec: Any, runtime: Any, observation: Any = None) -> str:
    """Where a verdict's expectation came from, for the reports: `profile NAME`, or the SP's
    declared policy (metadata or `[sp.policy]`) when the scenario runs only because of it (its
    `needs`), its `expect_when` follows it, or the observation names it (`Observation.policy`)."""
    profile = f"profile {runtime.profile.name}"
    pol = getattr(runtime, "sp_policy", None)
    if pol is None:
        return profile
    keys = [c for c in spec.needs if c in POLICY_CAPABILITIES]
    decided = False
    if spec.expect_when is not None:
        try:
            decided = spec.expect_when(runtime) != spec.expect_when(_Undeclared(runtime))
        except Exception:  # noqa: BLE001 - evidence only: never let it break a verdict
            decided = False
    if not (keys or decided or getattr(observation, "policy", None)):
        return profile
    items = pol.declared(() if decided or not keys else keys)
    return "the SP's declared policy: " + "; ".join(items) if items else profile


def _tri(value: str | None) -> bool | None:
    """A metadata xs:boolean: None when absent, True for "true"/"1", False for anything else."""
    if value is None:
        return None
    return value.strip() in ("true", "1")


def read_policy(metadata_xml: bytes, target: "Target | None" = None, entity_id: str | None = None) -> SPPolicy:
    """The SP's policies from its metadata (parsed safely: no DTD, no network, size-capped),
    then `[sp.policy]` of the target file on top. Bad metadata is one ConfigError line."""
    from mock_idp.bindings import BindingError, safe_parse
    from mock_idp.metadata import MAX_METADATA, MetadataError, parse_sp_metadata

    try:
        info = parse_sp_metadata(metadata_xml, entity_id)
        root = safe_parse(metadata_xml, "SP metadata", limit=MAX_METADATA)
    except (MetadataError, BindingError) as exc:
        raise ConfigError(f"SP metadata: {exc}") from None
    desc = next((sp for ed in root.iter(f"{{{MD}}}EntityDescriptor") if ed.get("entityID") == info.entity_id
                 for sp in ed.findall(f"{{{MD}}}SPSSODescriptor")), None)
    was = _tri(desc.get("WantAssertionsSigned")) if desc is not None else None
    ars = _tri(desc.get("AuthnRequestsSigned")) if desc is not None else None
    was_from = f"metadata: WantAssertionsSigned=\"{desc.get('WantAssertionsSigned')}\"" \
        if was is not None and desc is not None else "not declared"
    rsr: bool | None = None
    rsr_from = "not declared"
    notes: list[str] = []
    pol = target.sp.policy if target is not None else None
    if pol is not None and pol.want_assertions_signed is not None:
        if was is not None and was != pol.want_assertions_signed:
            notes.append(f"[sp.policy] want_assertions_signed = {str(pol.want_assertions_signed).lower()} "
                         f"overrides the metadata's WantAssertionsSigned=\"{str(was).lower()}\"")
        was = pol.want_assertions_signed
        was_from = "target file: [sp.policy] want_assertions_signed"
    if pol is not None and pol.require_signed_response is not None:
        rsr = pol.require_signed_response
        rsr_from = "target file: [sp.policy] require_signed_response"
    return SPPolicy(
        entity_id=info.entity_id,
        want_assertions_signed=was,
        want_assertions_signed_from=was_from,
        authn_requests_signed=ars,
        require_signed_response=rsr,
        require_signed_response_from=rsr_from,
        require_encrypted_assertions=pol.require_encrypted_assertions if pol is not None else None,
        requested_authn_context=pol.requested_authn_context if pol is not None else None,
        requires_name_id=pol.requires_name_id if pol is not None else None,
        request_lifetime_seconds=pol.request_lifetime_seconds if pol is not None else None,
        name_id_format=pol.name_id_format if pol is not None else None,
        signing_certs=tuple(info.signing_certs),
        encryption_certs=tuple(info.encryption_certs),
        name_id_formats=tuple(info.name_id_formats),
        acs=tuple(info.acs),
        slo=tuple(info.slo),
        notes=tuple(notes),
    )
