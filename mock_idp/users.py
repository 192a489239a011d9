"""Users the mock IdP asserts: Faker-generated (seeded, reproducible) or loaded from TOML/YAML."""
from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from faker import Faker

__all__ = [
    "User",
    "generate_user",
    "load_users",
    "PROFILES",
    "NAMEID_EMAIL",
    "NAMEID_PERSISTENT",
    "NAMEID_TRANSIENT",
    "NAMEID_UNSPECIFIED",
    "NAMEID_FORMATS",
    "UserFileError",
]

NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_FORMATS = {
    "email": NAMEID_EMAIL,
    "persistent": NAMEID_PERSISTENT,
    "transient": NAMEID_TRANSIENT,
    "unspecified": NAMEID_UNSPECIFIED,
}

PROFILES = ("generic", "redis_cloud", "redflag")
REDIS_ROLES = ("owner", "member", "manager", "billing_admin", "viewer")
REDFLAG_ROLES = ("Super Administrator", "IT Administrator", "Administrator", "Editor")


class UserFileError(ValueError):
    """A users file that cannot be read; the message is one line naming the file and entry."""


@dataclass
class User:
    name_id: str
    name_id_format: str = NAMEID_EMAIL
    attributes: dict[str, list[str]] = field(default_factory=dict)
    label: str = ""

    def with_attributes(self, **attrs: list[str] | str) -> "User":
        new = {k: list(v) for k, v in self.attributes.items()}
        for k, v in attrs.items():
            new[k] = [v] if isinstance(v, str) else list(v)
        return replace(self, attributes=new)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name_id": self.name_id,
            "name_id_format": self.name_id_format,
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "label": self.label,
        }


def _slugify(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum()) or "user"


def generate_user(profile: str = "generic", seed: int | None = None, **overrides: Any) -> User:
    """A plausible user for `profile`; the same seed gives the same user.

    Overrides: `domain` (email domain, default `example.com`), `name_id`, `name_id_format`
    (a URN or one of email/persistent/transient/unspecified), `attributes` (merged over the
    generated ones), and for convenience `first_name`, `last_name`, `email`, `role`, `tenants`,
    `accounts` (redis_cloud account mapping pairs like ``["12345=owner"]``).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown attribute profile {profile!r}; known: {', '.join(PROFILES)}")
    fake = Faker("en_US")
    rng = random.Random(seed)
    fake.seed_instance(seed if seed is not None else rng.getrandbits(64))
    domain = overrides.pop("domain", "example.com")
    first = overrides.pop("first_name", None) or fake.first_name()
    last = overrides.pop("last_name", None) or fake.last_name()
    local = f"{_slugify(first)}.{_slugify(last)}"
    email = overrides.pop("email", None) or f"{local}@{domain}"
    attrs: dict[str, list[str]]
    if profile == "redis_cloud":
        accounts = overrides.pop("accounts", None) or [
            f"{fake.random_int(10000, 99999)}={fake.random_element(REDIS_ROLES)}"
        ]
        attrs = {
            "FirstName": [first],
            "LastName": [last],
            "Email": [email],
            "redisAccountMapping": list(accounts),
        }
    elif profile == "redflag":
        role = overrides.pop("role", None) or fake.random_element(REDFLAG_ROLES)
        tenants = overrides.pop("tenants", None) or [fake.slug().split("-")[0] or "tenant"]
        attrs = {
            "username": [local],
            "firstname": [first],
            "lastname": [last],
            "role": [role],
            "email": [email],
            "tenantid": [",".join(tenants)] if isinstance(tenants, list) else [tenants],
        }
    else:
        attrs = {"FirstName": [first], "LastName": [last], "Email": [email]}
    for k, v in (overrides.pop("attributes", None) or {}).items():
        attrs[k] = [v] if isinstance(v, str) else list(v)
    fmt = overrides.pop("name_id_format", NAMEID_EMAIL)
    fmt = NAMEID_FORMATS.get(fmt, fmt)
    name_id = overrides.pop("name_id", None)
    if name_id is None:
        if fmt in (NAMEID_PERSISTENT, NAMEID_TRANSIENT):
            name_id = "_" + "%032x" % fake.random_number(digits=38, fix_len=False)
        else:
            name_id = email
    label = overrides.pop("label", f"{first} {last}")
    if overrides:
        raise TypeError(f"unknown generate_user option(s): {', '.join(sorted(overrides))}")
    return User(name_id=name_id, name_id_format=fmt, attributes=attrs, label=label)


def _user_from_mapping(entry: Any, where: str) -> User:
    if not isinstance(entry, dict):
        raise UserFileError(f"{where}: a user must be a table/mapping")
    name_id = entry.get("name_id") or entry.get("nameid")
    if not isinstance(name_id, str) or not name_id:
        raise UserFileError(f"{where}: missing string field 'name_id'")
    fmt = entry.get("name_id_format", "email")
    fmt = NAMEID_FORMATS.get(fmt, fmt)
    raw = entry.get("attributes", {}) or {}
    if not isinstance(raw, dict):
        raise UserFileError(f"{where}: 'attributes' must be a table/mapping")
    attrs: dict[str, list[str]] = {}
    for k, v in raw.items():
        if isinstance(v, list):
            attrs[str(k)] = [str(x) for x in v]
        elif v is None:
            attrs[str(k)] = []
        else:
            attrs[str(k)] = [str(v)]
    return User(name_id=name_id, name_id_format=fmt, attributes=attrs, label=str(entry.get("label", name_id)))


def load_users(path: Path | str) -> list[User]:
    """Users from a TOML (``[[users]]`` tables) or YAML (``users:`` list, or a bare list) file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise UserFileError(f"{p}: cannot read users file ({e.strerror})") from None
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # noqa: BLE001 - parser errors become one line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserFileError(f"{p}: not valid {p.suffix.lstrip('.') or 'YAML'}: {first}") from None
    entries = data.get("users") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise UserFileError(f"{p}: expected a non-empty 'users' list")
    return [_user_from_mapping(e, f"{p}: users[{i}]") for i, e in enumerate(entries)]
