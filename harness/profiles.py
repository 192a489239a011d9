"""Profiles: an SP's SSO contract as data (TOML files in `harness/profiles/`)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

PROFILE_DIR = Path(__file__).parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributeNames(_Strict):
    """Which assertion attributes carry which facts (names are case-sensitive)."""

    email: str = "Email"
    first_name: str = "FirstName"
    last_name: str = "LastName"
    username: str | None = None
    role: str | None = None
    tenant: str | None = None
    account_mapping: str | None = None
    scoped: str | None = None  # a scoped attribute (user@scope) the SP checks against the IdP's shibmd:Scope
    required: list[str] = Field(default_factory=list)


class Flows(_Strict):
    sp_initiated: bool = True
    idp_initiated: bool = True
    slo: bool = False


class Accounts(_Strict):
    """How per-account roles are read (`acct=role` pairs, comma-split or one value per pair)."""

    pair_separator: str = "="
    list_separator: str = ","
    roles: list[str] = Field(default_factory=list)


class Roles(_Strict):
    vocabulary: list[str] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict)


class Tenants(_Strict):
    list_separator: str = ","
    reprovision_each_login: bool = True
    one_idp_per_tenant: bool = True


class Lifecycle(_Strict):
    jit: bool = True
    deactivation_removes_saml_users: bool = False
    activation_converts_local_users: bool = False
    bypass_users: bool = False
    local_login_after_activation: bool = True
    domain_verification: bool = False


class Profile(_Strict):
    name: str
    title: str
    source: str = ""
    attributes: AttributeNames = AttributeNames()
    flows: Flows = Flows()
    accounts: Accounts | None = None
    roles: Roles | None = None
    tenants: Tenants | None = None
    lifecycle: Lifecycle = Lifecycle()
    login_hint: Literal["email", "tenant", "none"] = "email"


def bundled_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a bundled profile by name, or a custom profile TOML by path."""
    text_path = Path(name_or_path)
    if text_path.suffix != ".toml":
        text_path = PROFILE_DIR / f"{name_or_path}.toml"
        if not text_path.exists():
            raise ConfigError(
                f"profile {str(name_or_path)!r}: unknown; bundled profiles are "
                + ", ".join(bundled_profiles())
            )
    if not text_path.exists():
        raise ConfigError(f"{text_path}: profile file not found")
    try:
        data = tomllib.loads(text_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{text_path}: not valid TOML: {exc}") from None
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{text_path}: {first_validation_error(exc)}") from None


def first_validation_error(exc: ValidationError) -> str:
    """One line for the first problem pydantic found: `field.path: message`."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
    msg = err.get("msg", "invalid")
    if err.get("type") == "value_error" and where == "(top level)":
        # a model-level check names its own field first: "Value error, login.form_url: ..."
        text = msg.removeprefix("Value error, ")
        head, sep, rest = text.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z_][\w.\[\]]*", head):
            return f"field {head!r}: {rest}"
        msg = text
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "missing":
        msg = "required field is missing"
    return f"field {where!r}: {msg}"
