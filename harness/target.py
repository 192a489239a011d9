"""The target file: the SP under test, as a typed model loaded from TOML with one-line errors."""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .errors import ConfigError
from .profiles import Profile, first_validation_error, load_profile

TARGET_DIR = Path(__file__).parent / "targets"

# Everything a scenario may need; a target lacking one gets `not tested` with the reason.
CAPABILITIES = (
    # what the target file lets samlconf do
    "sp_initiated",
    "sp_initiated_post",
    "idp_initiated",
    "slo",
    "relay_state",
    "deep_link",
    "user_inspection",
    "saml_admin",
    "link_accounts",
    "bypass_users",
    "domain_verification",
    "delete_user",
    "local_users",
    "tenant_admin",
    "tenant_switch",
    "idp_admin",
    "dns_zone",
    # rules the profile states (a scenario checking a rule the contract does not make is not tested)
    "account_mapping",
    "tenants",
    "role_aliases",
    "domain_rule",
    "one_idp_per_tenant",
    "local_users_off",
    "role_vocabulary",
    "required_attributes",
    "role_rule",
    "scoped_attribute",
    # what the SP declares (its metadata, or [sp.policy] in the target file)
    "want_assertions_signed",
    "require_signed_response",
    "encryption_key",
    "authn_requests_signed",
    "multiple_acs",
    "require_encrypted_assertions",
    "force_authn",
    "requested_authn_context",
    "restart",
    "request_lifetime",
    "name_id_policy_format",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SPPolicySection(_Strict):
    """Policies the SP's metadata does not state (or states wrongly); each overrides the metadata.

    want_assertions_signed: as WantAssertionsSigned in the SPSSODescriptor (None: take the metadata's);
    require_signed_response: the SP refuses a Response whose samlp:Response carries no signature
    (SAML metadata has no attribute for this);
    require_encrypted_assertions: the SP refuses a plaintext Assertion (python3-saml's
    wantAssertionsEncrypted; SAML metadata has no attribute for it either)."""

    want_assertions_signed: bool | None = None
    require_signed_response: bool | None = None
    require_encrypted_assertions: bool | None = None
    # the AuthnContextClassRef the SP requests (RequestedAuthnContext, exact) and requires (MAS-07)
    requested_authn_context: str | None = None
    # the SP refuses an Assertion whose Subject has no NameID (python3-saml wantNameId; NID-01)
    requires_name_id: bool | None = None
    # seconds the SP keeps an AuthnRequest pending; a Response after that is refused (IRT-08)
    request_lifetime_seconds: int | None = Field(default=None, ge=1, le=86400)
    # the NameID Format the SP asks for (NameIDPolicy Format) and requires in the Response (NID-03)
    name_id_format: str | None = None


class SPSection(_Strict):
    metadata_url: str | None = None
    metadata_file: Path | None = None
    entity_id: str | None = None
    policy: SPPolicySection = SPPolicySection()


class LoginSection(_Strict):
    """How to start SP-initiated login: a URL template with {email}, {tenant}, {relay_state}, or a
    login page whose form is filled and submitted."""

    @model_validator(mode="after")
    def _form_needs_fields(self) -> "LoginSection":
        if self.form_url and not self.form_fields:
            raise ValueError("form_url needs form_fields (input name -> value, e.g. email = \"{email}\")")
        return self

    sp_initiated_url: str | None = None
    # optional: the same login, with the SP sending its AuthnRequest by HTTP-POST
    sp_initiated_post_url: str | None = None
    # optional: the same login, with the SP asking for a fresh authentication (ForceAuthn="true")
    sp_initiated_force_authn_url: str | None = None
    # or: a login page with a form to fill (field name -> value template), submitted like a person
    form_url: str | None = None
    form_fields: dict[str, str] = Field(default_factory=dict)
    relay_state: str = ""


class WhoamiSection(_Strict):
    """How to tell who is signed in: a URL returning JSON and the path of the principal in it."""

    url: str
    json_path: str = "email"  # dotted path (list indices allowed: "user.emails.0") to the identity
    name_id_path: str | None = None  # dotted path to the NameID the SP stored, when it shows it
    # what the value at json_path is: "name_id" (the NameID the IdP issued, e.g. a transient one) or
    # an attribute name; default: the profile's email attribute
    identity: str | None = None
    # dotted path that is non-empty exactly when someone is signed in (default: name_id_path, then
    # a look at the answer): tells "signed in, identity unknown" from "nobody"
    session_path: str | None = None
    css_selector: str | None = None  # read the principal from an HTML page instead of JSON
    regex: str | None = None  # ... or with a regular expression (first group) over the page/element

    @model_validator(mode="after")
    def _check_patterns(self) -> "WhoamiSection":
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex is not a valid regular expression ({exc})") from None
        if self.css_selector is not None:
            from cssselect import GenericTranslator, SelectorError

            try:
                GenericTranslator().css_to_xpath(self.css_selector)
            except SelectorError as exc:
                raise ValueError(f"css_selector is not a valid CSS selector ({exc})") from None
        return self


class HookSection(_Strict):
    """An admin hook as one HTTP call; `${env:NAME}` in url/headers/json is read from the environment."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: dict | None = Field(default=None, alias="json")
    json_path: str | None = None


class IdPSection(_Strict):
    entity_id: str = "urn:samlconf:mock-idp"
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class Timeouts(_Strict):
    connect: float = Field(default=5.0, gt=0)
    read: float = Field(default=15.0, gt=0)


class PropertiesSection(_Strict):
    """Property-based scenarios (PROP-*, Hypothesis): generated examples per scenario, a bound on SP
    sign-ins (examples + shrinking), and whether generation is fixed (`derandomize`: the same
    examples every run, as CI wants; unset = on when $CI is set, else seeded by the run's seed).
    $SAMLCONF_PROPERTY_EXAMPLES and $SAMLCONF_PROPERTY_DERANDOMIZE=1 override the file;
    `samlconf run --property-examples N --property-derandomize` override both."""

    examples: int = Field(default=25, ge=1, le=5000)
    max_logins: int = Field(default=150, ge=1, le=50000)
    derandomize: bool | None = None


class TestData(_Strict):
    """What the SP is configured with, so generated users can sign in (domains, accounts, tenants)."""

    email_domain: str = "example.com"
    other_domain: str = "unverified.example"
    accounts: list[str] = Field(default_factory=lambda: ["12345", "54321"])
    account_role: str = "manager"
    tenants: list[str] = Field(default_factory=lambda: ["pocketstop1", "pocketstop2"])
    role: str | None = None
    # the id of the SP's SAML configuration the run's IdP is bound to (redis_cloud RelayState
    # `?idpId=`, per-configuration SP metadata)
    saml_config_id: str = "default"


class EmbeddedSection(_Strict):
    """Start the bundled reference SP as the target (its URLs in this file are then relative)."""

    kind: Literal["reference_sp"] = "reference_sp"
    mutants: list[str] = Field(default_factory=list)
    # what the reference SP's metadata says: WantAssertionsSigned "true", "false" or "absent"
    want_assertions_signed: Literal["true", "false", "absent"] = "true"
    # the reference SP signs its AuthnRequests and says AuthnRequestsSigned="true" (AREQ-09/10)
    sign_authn_requests: bool = False
    # the reference SP publishes and serves a second ACS, /saml/acs/1 (index 1; DST-10)
    second_acs: bool = False
    # the reference SP requests this AuthnContextClassRef (exact) and refuses another (MAS-07)
    request_authn_context: str | None = None
    # the reference SP asks for this NameID Format (NameIDPolicy) and refuses another (NID-03)
    request_name_id_format: str | None = None
    # seconds the reference SP keeps an AuthnRequest pending, also declared as its
    # [sp.policy] request_lifetime_seconds (IRT-08; 600 when unset, undeclared)
    request_lifetime_seconds: int | None = Field(default=None, ge=1, le=86400)


class Target(_Strict):
    _source: Path | None = PrivateAttr(default=None)  # the file it was loaded from, for error messages
    name: str = "target"
    profile: str = "generic"
    base_url: str | None = None
    embedded: EmbeddedSection | None = None
    sp: SPSection = SPSection()
    login: LoginSection = LoginSection()
    whoami: WhoamiSection
    logout_url: str | None = None
    idp: IdPSection = IdPSection()
    testdata: TestData = TestData()
    hooks: dict[str, HookSection] = Field(default_factory=dict)
    adapter: str | None = None
    capabilities_off: list[str] = Field(default_factory=list)
    clock_skew_seconds: int = Field(default=120, ge=0, le=3600)
    timeouts: Timeouts = Timeouts()
    properties: PropertiesSection = PropertiesSection()
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> "Target":
        if self.embedded is None:
            if not (self.sp.metadata_url or self.sp.metadata_file):
                raise ValueError("sp: set metadata_url or metadata_file")
        if self.sp.metadata_url and self.sp.metadata_file:
            raise ValueError("sp: set metadata_url or metadata_file, not both")
        if self.base_url is not None and not _is_http_url(self.base_url):
            raise ValueError(f"base_url: {self.base_url!r} is not an http(s) URL with a host")
        urls = {"login.sp_initiated_url": self.login.sp_initiated_url,
                "login.sp_initiated_post_url": self.login.sp_initiated_post_url,
                "login.sp_initiated_force_authn_url": self.login.sp_initiated_force_authn_url,
                "login.form_url": self.login.form_url, "whoami.url": self.whoami.url,
                "logout_url": self.logout_url}
        texts = {f"login.form_fields.{k}": v for k, v in self.login.form_fields.items()}
        for field, template in {**urls, **texts}.items():
            unknown = [n for n in _PLACEHOLDER.findall(template or "") if n not in URL_PLACEHOLDERS]
            if unknown:
                raise ValueError(f"{field}: unknown placeholder {{{unknown[0]}}} (known: "
                                 + ", ".join("{" + n + "}" for n in URL_PLACEHOLDERS) + ")")
        for field, template in urls.items():
            if template is None:
                continue
            if template.startswith("/"):
                if not self.base_url and self.embedded is None:
                    raise ValueError(f"{field}: the relative URL {template!r} needs base_url")
            elif not _is_http_url(template.split("{", 1)[0] + "x"):
                raise ValueError(f"{field}: {template!r} is neither an http(s) URL nor a path starting with /")
        for cap in self.capabilities_off:
            if cap not in CAPABILITIES:
                raise ValueError(f"capabilities_off: unknown capability {cap!r}")
        return self

    # --- derived ---------------------------------------------------------------------------
    def url(self, template: str, **values: str) -> str:
        """Resolve a URL template against base_url; placeholders {email}, {tenant}, {relay_state}."""
        text = template
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        if text.startswith("/"):
            if not self.base_url:
                raise ConfigError(f"target {self.name!r}: relative URL {template!r} needs base_url")
            text = self.base_url.rstrip("/") + text
        return text

    def accepts_unsolicited(self, profile: Profile) -> bool:
        """Does this SP accept unsolicited (IdP-initiated) Responses? The profile's
        `[flows] idp_initiated`, unless the target file switches `idp_initiated` off. Every scenario
        that sends one expects a refusal (IRT-05, FLOW-02) or is not tested, from this one answer."""
        return profile.flows.idp_initiated and "idp_initiated" not in self.capabilities_off

    def unsolicited_refused_because(self, profile: Profile) -> str:
        if not profile.flows.idp_initiated:
            return f"profile {profile.name!r} refuses IdP-initiated (unsolicited) login ([flows] idp_initiated = false)"
        return "the target refuses IdP-initiated (unsolicited) login (capabilities_off)"

    def capabilities(self, profile: Profile, adapter: object | None = None) -> dict[str, str | None]:
        """capability -> None when available, else the reason it is missing."""
        have: dict[str, str | None] = {}
        login = self.login.sp_initiated_url
        have["sp_initiated"] = None if (login or self.login.form_url) \
            else "target file has no login.sp_initiated_url or login.form_url"
        have["sp_initiated_post"] = None if self.login.sp_initiated_post_url \
            else "target file has no login.sp_initiated_post_url"
        have["force_authn"] = None if self.login.sp_initiated_force_authn_url \
            else "target file has no login.sp_initiated_force_authn_url (a login that sends ForceAuthn=\"true\")"
        unsolicited = self.accepts_unsolicited(profile)
        have["idp_initiated"] = None if unsolicited else self.unsolicited_refused_because(profile)
        have["slo"] = None if self.logout_url else "target file has no logout_url"
        have["relay_state"] = None if ((login and "{relay_state}" in login) or unsolicited) \
            else "the login URL takes no {relay_state} and the SP refuses IdP-initiated login"

        def hooked(*hooks: str) -> str | None:
            missing = [h for h in hooks if h not in self.hooks and not callable(getattr(adapter, h, None))]
            return None if not missing else f"target has no {missing[0]!r} hook"

        have["deep_link"] = None if login and "{relay_state}" in login \
            else "the SP-initiated login URL takes no {relay_state} (the page to return to)"
        have["user_inspection"] = hooked("list_users")
        have["saml_admin"] = hooked("deactivate_saml")
        have["link_accounts"] = hooked("link_account")
        have["bypass_users"] = hooked("add_bypass_user")
        have["domain_verification"] = hooked("verify_domain")
        have["delete_user"] = hooked("delete_user")
        have["restart"] = hooked("restart")
        have["local_users"] = hooked("add_local_user", "password_login")
        have["tenant_admin"] = hooked("add_idp", "add_tenant")
        have["tenant_switch"] = hooked("switch_tenant")
        have["idp_admin"] = hooked("add_idp")
        have["dns_zone"] = None  # the runtime knows (Runtime.capabilities)

        def states(ok: bool, rule: str) -> str | None:
            return None if ok else f"profile {profile.name!r} states no {rule}"

        a = profile.attributes
        have["account_mapping"] = states(bool(a.account_mapping), "account mapping attribute")
        have["tenants"] = states(bool(a.tenant), "tenant attribute")
        have["role_aliases"] = states(bool(a.role and profile.roles and profile.roles.aliases), "role aliases")
        have["domain_rule"] = states(profile.lifecycle.domain_verification, "domain verification rule")
        have["one_idp_per_tenant"] = states(bool(a.tenant and profile.tenants and profile.tenants.one_idp_per_tenant),
                                            "one-IdP-per-tenant rule")
        have["role_vocabulary"] = states(bool(a.role and profile.roles and profile.roles.vocabulary),
                                         "role vocabulary for a role attribute")
        have["role_rule"] = states(bool((a.role and profile.roles and profile.roles.vocabulary)
                                        or (a.account_mapping and profile.accounts and profile.accounts.roles)),
                                   "role vocabulary (role attribute or account/role pairs)")
        have["local_users_off"] = states(not profile.lifecycle.local_login_after_activation,
                                         "rule that local users stop signing in once SAML is on")
        have["required_attributes"] = states(bool(a.required), "required attributes")
        have["scoped_attribute"] = states(bool(a.scoped), "scoped attribute ([attributes] scoped, checked "
                                          "against the IdP's shibmd:Scope)")
        for cap in self.capabilities_off:
            have[cap] = "switched off in the target file (capabilities_off)"
        return have

_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
URL_PLACEHOLDERS = ("email", "tenant", "relay_state")
REFSP_TOKEN_VAR = "SAMLCONF_REFSP_TOKEN"  # set by the runtime for the embedded reference SP's admin API


def _is_http_url(text: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _env_names(value: object) -> list[tuple[str, str]]:
    """(where, NAME) for every `${env:NAME}` in the hooks' url, headers and JSON body."""
    out: list[tuple[str, str]] = []

    def walk(v: object, where: str) -> None:
        if isinstance(v, str):
            out.extend((where, n) for n in _ENV.findall(v))
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{where}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{where}[{i}]")

    walk(value, "hooks")
    return out


def expand_env(text: str, where: str, extra: Mapping[str, str] | None = None) -> str:
    """Replace `${env:NAME}` with `extra[NAME]` or the environment variable; missing is a ConfigError."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if extra and name in extra:
            return extra[name]
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return os.environ[name]

    return _ENV.sub(repl, text)


def load_target(path: str | Path) -> Target:
    """Load and validate a target file; every problem is one line naming the file and field."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: target file not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    try:
        target = Target.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{p}: {first_validation_error(exc)}") from None
    if target.sp.metadata_file is not None and not target.sp.metadata_file.is_absolute():
        target.sp.metadata_file = (p.parent / target.sp.metadata_file).resolve()
    if target.ca_file is not None and not target.ca_file.is_absolute():
        target.ca_file = (p.parent / target.ca_file).resolve()
    if target.ca_file is not None and not target.ca_file.is_file():
        raise ConfigError(f"{p}: field 'ca_file': {target.ca_file} not found")
    if target.sp.metadata_file is not None and not target.sp.metadata_file.is_file():
        raise ConfigError(f"{p}: field 'sp.metadata_file': {target.sp.metadata_file} not found")
    hooks = {name: h.model_dump(by_alias=True) for name, h in target.hooks.items()}
    for where, name in _env_names(hooks):
        if name not in os.environ and not (target.embedded is not None and name == REFSP_TOKEN_VAR):
            raise ConfigError(f"{p}: field '{where}': environment variable {name} is not set")
    target._source = p
    if target.profile.endswith(".toml") and not Path(target.profile).is_absolute():
        # a custom profile is relative to the target file (as metadata_file is), not to the cwd
        target.profile = str((p.parent / target.profile).resolve())
    try:
        load_profile(target.profile)
    except ConfigError as exc:
        raise ConfigError(f"{p}: field 'profile': {exc}") from None
    return target


def bundled_target(profile: str = "redis_cloud") -> Path:
    return TARGET_DIR / f"reference_{profile}.toml"
