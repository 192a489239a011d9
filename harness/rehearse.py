"""Rehearse an IdP's attribute configuration against an SP's contract (profile) before SSO goes live.

Static: every user's attributes are checked against the profile (required names, case-sensitive
names, role vocabulary and aliases, `acct=role` pairs, tenant lists, email shape).
Live (with a target): each user signs in through the mock IdP exactly as configured, and the SP's
own view of them (whoami) is shown next to what the contract says they should get.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from .profiles import Profile

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PRESET_DIR = __import__("pathlib").Path(__file__).parent / "presets"
MEANINGS = ("email", "first_name", "last_name", "username", "role", "tenant")


@dataclass(frozen=True)
class Preset:
    """What a real IdP sends by default (harness/presets/<name>.toml): its claim name per meaning."""

    name: str
    title: str
    how_to_rename: str
    claims: dict[str, str]
    extra: tuple[str, ...] = ()
    sample: dict[str, Any] = field(default_factory=dict)
    sends_by_default: bool = True  # False: [claims] are the IdP's directory fields, sent only once mapped

    def meaning_of(self, claim: str) -> str | None:
        return next((m for m, c in self.claims.items() if c == claim), None)


def presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_preset(name: str) -> Preset:
    import tomllib

    from .errors import ConfigError

    path = PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"--preset {name!r}: unknown IdP preset (known: {', '.join(presets())})")
    d = tomllib.loads(path.read_text(encoding="utf-8"))
    return Preset(d["name"], d["title"], d["how_to_rename"], dict(d.get("claims", {})),
                  tuple(d.get("extra", ())), dict(d.get("sample", {})), bool(d.get("sends_by_default", True)))


def _contract_name(profile: Profile, meaning: str) -> str | None:
    return getattr(profile.attributes, meaning, None)


@dataclass
class Finding:
    level: str  # error | warning
    message: str


@dataclass
class UserReport:
    user: str
    findings: list[Finding] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)
    sp_view: dict[str, Any] | None = None
    signed_in: bool | None = None

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings) and self.signed_in is not False

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "ok": self.ok, "expected": self.expected, "signed_in": self.signed_in,
                "sp_view": self.sp_view, "findings": [f.__dict__ for f in self.findings]}


def _split(values: list[str], sep: str) -> list[str]:
    return [p.strip() for v in values for p in v.split(sep)]


def check_user(profile: Profile, attributes: dict[str, list[str]], label: str,
               preset: Preset | None = None) -> UserReport:
    """What the contract makes of these attributes, and everything that breaks it. With an IdP
    `preset`, an attribute the IdP sends under its own default name is a rename, not a gap."""
    rep = UserReport(label)
    a = profile.attributes
    names = set(attributes)
    renamed: set[str] = set()
    for req in a.required:
        if req in names:
            if not any(v.strip() for v in attributes[req]):
                rep.findings.append(Finding("error", f"required attribute {req!r} is empty"))
            continue
        meaning = next((m for m in MEANINGS if _contract_name(profile, m) == req), None)
        default = preset.claims.get(meaning) if preset and meaning else None
        if preset and default and default in names:
            renamed.add(default)
            rep.findings.append(Finding("error", f"send {req!r}, not {default!r}: {preset.title} sends the "
                                                 f"{meaning.replace('_', ' ')} under that name by default "
                                                 f"({preset.how_to_rename})"))
            continue
        if preset and meaning:
            if default and not preset.sends_by_default:
                msg = (f"{preset.title} sends no attributes until they are mapped: map {default!r} to an "
                       f"app attribute named {req!r}")
            else:
                what = f"its default name is {default!r}" if default else "it sends none by default"
                msg = f"add a {meaning.replace('_', ' ')} claim named {req!r} in {preset.title} ({what})"
            rep.findings.append(Finding("error", f"required attribute {req!r} is missing: {msg} "
                                                 f"({preset.how_to_rename})"))
            continue
        near = [n for n in names if n.lower() == req.lower()] or difflib.get_close_matches(req, list(names), 1, 0.8)
        hint = f" ({near[0]!r} is sent: attribute names are case-sensitive and exact)" if near else ""
        rep.findings.append(Finding("error", f"required attribute {req!r} is missing{hint}"))
    known = set(a.required) | {x for x in (a.email, a.first_name, a.last_name, a.username, a.role, a.tenant,
                                            a.account_mapping) if x}
    quiet = renamed | set(preset.extra if preset else ())
    for n in sorted(names - known - quiet):
        meaning = preset.meaning_of(n) if preset else None
        why = f" ({preset.title}'s default {meaning.replace('_', ' ')} claim)" if meaning else ""
        rep.findings.append(Finding("warning", f"attribute {n!r} is not part of the {profile.name} contract{why} (ignored)"))
    for v in attributes.get(a.email, []):
        if not EMAIL.match(v.strip()):
            rep.findings.append(Finding("error", f"{a.email}={v!r} is not an email address"))
    if a.account_mapping and a.account_mapping in names and profile.accounts:
        acc = profile.accounts
        grants: dict[str, str] = {}
        for pair in _split(attributes[a.account_mapping], acc.list_separator):
            if not pair:
                continue
            acct, sep, role = pair.partition(acc.pair_separator)
            acct, role = acct.strip(), role.strip()
            if not sep or not acct.isdigit():
                rep.findings.append(Finding("error", f"{a.account_mapping}: {pair!r} is not ACCOUNT{acc.pair_separator}role"))
            elif role not in acc.roles:
                fix = f" (did you mean {role.lower()!r}? roles are lowercase)" if role.lower() in acc.roles else ""
                rep.findings.append(Finding("error", f"{a.account_mapping}: role {role!r} for account {acct} is not one of "
                                                     f"{', '.join(acc.roles)}{fix}: no access to that account"))
            else:
                grants[acct] = role
        rep.expected["accounts"] = grants
    if a.role and a.role in names and profile.roles:
        vocab, aliases = profile.roles.vocabulary, profile.roles.aliases
        vals = [v.strip() for v in attributes[a.role] if v.strip()]
        if len(vals) != 1:
            rep.findings.append(Finding("error", f"{a.role} must carry exactly one role, got {vals}"))
        for v in vals:
            role = aliases.get(v, v)
            if role not in vocab:
                rep.findings.append(Finding("error", f"{a.role}={v!r} is not one of {', '.join(vocab)} "
                                                     f"(aliases: {', '.join(aliases) or '-'})"))
            else:
                rep.expected["role"] = role
    if a.tenant and a.tenant in names and profile.tenants:
        tenants = [t for t in _split(attributes[a.tenant], profile.tenants.list_separator)]
        if any(not t for t in tenants):
            rep.findings.append(Finding("warning", f"{a.tenant} has an empty entry ({attributes[a.tenant]})"))
        rep.expected["tenants"] = sorted({t for t in tenants if t})
    return rep


def render(reports: list[UserReport]) -> str:
    lines = []
    for r in reports:
        lines.append(f"{'OK  ' if r.ok else 'FAIL'} {r.user}")
        if r.expected:
            lines.append(f"     contract gives: {r.expected}")
        if r.signed_in is not None:
            lines.append(f"     SP signed in: {'yes' if r.signed_in else 'no'}; SP shows: {r.sp_view}")
        lines += [f"     {f.level}: {f.message}" for f in r.findings]
    bad = sum(not r.ok for r in reports)
    lines.append(f"{len(reports) - bad} of {len(reports)} users fit the contract")
    return "\n".join(lines)


def live(runtime: Any, users: list[Any], reports: list[UserReport]) -> None:
    """Sign each user in through the mock IdP, as configured, and record the SP's view of them."""
    from .context import ScenarioContext
    from .engine import make_driver

    driver = make_driver("http", runtime)
    for user, rep in zip(users, reports):
        session = driver.new_session(runtime.allowed_origins())
        try:
            ctx = ScenarioContext(runtime, session, "http")
            tenants = rep.expected.get("tenants") or [None]
            ctx.sp_login(user, tenant=tenants[0]) if runtime.target.login.sp_initiated_url else ctx.idp_login(user)
            data = ctx.whoami_data()
            rep.signed_in = data is not None
            rep.sp_view = {k: data.get(k) for k in ("email", "role", "accounts", "tenants") if k in data} \
                if isinstance(data, dict) else data
            if rep.signed_in and isinstance(data, dict):
                for key in ("role", "accounts", "tenants"):
                    want, got = rep.expected.get(key), data.get(key)
                    if want is not None and got is not None and (sorted(got) if isinstance(got, list) else got) != want:
                        rep.findings.append(Finding("error", f"the SP gave {key}={got!r}, the contract says {want!r}"))
        finally:
            session.close()
