"""Just-in-time provisioning from a verified assertion, per profile.

Reads the profile's attributes (names compared exactly, case-sensitively), checks the contract's
rules, and creates or updates the user and their memberships (accounts or tenants) in one
transaction. Raises `Rejected` when the sign-in must not happen at all.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .saml import Rejected, Verified

if TYPE_CHECKING:
    from .app import RefSP

ACCOUNT_RE = re.compile(r"^[0-9]{1,20}$")
# ATTR-12: bounded attribute handling. Producers limit strings to 256 characters (S2I SDP-G02);
# the SP refuses a value longer than this, or more values of one attribute than this.
MAX_VALUE_CHARS = 4096
MAX_VALUES = 1000


@dataclass
class ProvisionResult:
    user_id: int
    current_tenant: str | None
    snapshot: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _get(sp: "RefSP", attrs: dict[str, list[str]], name: str) -> list[str] | None:
    if name in attrs:
        return attrs[name][:1] if sp.m("first_value_only") else attrs[name]  # (the defect: POS-09)
    if sp.m("attr_names_case_insensitive"):
        for k, v in attrs.items():
            if k.lower() == name.lower():
                return v
    return None


def _single(sp: "RefSP", attrs: dict[str, list[str]], name: str, required: bool = True) -> str:
    vals = _get(sp, attrs, name)
    if vals is None or not [v for v in vals if v.strip()]:
        if required:
            raise Rejected(f"the required attribute {name!r} is missing or empty "
                           "(attribute names are case-sensitive)", "ATTR-01")
        return ""
    vals = [v.strip() for v in vals if v.strip()]
    if sp.m("splits_values_on_comma"):
        vals = [p.strip() for v in vals for p in v.split(",") if p.strip()]
    if len(set(vals)) > 1 and sp.m("role_first_value") and name == "role":
        vals = vals[:1]
    if len(set(vals)) > 1:
        raise Rejected(f"the attribute {name!r} must have one value, got {len(vals)}", "ATTR-08")
    return vals[0]


def _valid_email(email: str) -> bool:
    return bool(re.fullmatch(r"[^@\s<>()\",;]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+", email))


def _check_bounds(sp: "RefSP", attrs: dict[str, list[str]]) -> None:
    if sp.m("unbounded_attribute_values"):
        return  # the defect: values of any size and number are read and stored
    for name, vals in attrs.items():
        if len(vals) > MAX_VALUES:
            raise Rejected(f"the attribute {name[:64]!r} has {len(vals)} values (at most {MAX_VALUES})",
                           "ATTR-12")
        longest = max((len(x) for x in vals), default=0)
        if longest > MAX_VALUE_CHARS:
            raise Rejected(f"a value of the attribute {name[:64]!r} has {longest} characters (at most "
                           f"{MAX_VALUE_CHARS})", "ATTR-12")


def provision(sp: "RefSP", v: Verified, idp_id: str, tenant: str | None) -> ProvisionResult:
    _check_bounds(sp, v.attributes)
    if not v.attributes and sp.m("attribute_statement_optional") and _valid_email(v.name_id):
        # the defect: no attributes at all signs the NameID in, as a user without accounts/roles
        return _finish(sp, v, idp_id, v.name_id, "", "", {})
    if sp.profile == "redis_cloud":
        return _redis_cloud(sp, v, idp_id)
    if sp.profile == "redflag":
        return _redflag(sp, v, idp_id, tenant)
    return _generic(sp, v, idp_id)


def _upsert_user(sp: "RefSP", c: Any, v: Verified, idp_id: str, email: str, first: str, last: str,
                 username: str | None = None, role: str | None = None) -> int:
    now = time.time()
    row = c.execute("SELECT * FROM users WHERE email = ?", (email.lower(),)).fetchone()
    by_name_id = sp.m("users_keyed_by_name_id") and c.execute(
        "SELECT * FROM users WHERE name_id = ? AND kind = 'saml'", (v.name_id,)).fetchone()
    if by_name_id:
        # the defect (TEN-04): a returning user is found by NameID alone, whichever IdP asserted
        # it (no IdP/NameQualifier namespace), and taken as that IdP's user
        row = by_name_id
    elif row is not None and row["kind"] == "saml" and row["idp_id"] and row["idp_id"] != idp_id \
            and not sp.m("jit_overwrites_other_idp_user"):
        # ATTR-14: a SAML user belongs to the IdP that provisioned them; another configuration's
        # IdP asserting the same email neither signs them in nor updates them
        raise Rejected(f"{email!r} is a user of another identity provider", "ATTR-14")
    if row is None:
        cur = c.execute(
            "INSERT INTO users (email, name_id, name_id_format, first_name, last_name, username, "
            "role, kind, bypass, password_hash, idp_id, created, updated, logins) "
            "VALUES (?,?,?,?,?,?,?,'saml',0,NULL,?,?,?,1)",
            (email.lower(), v.name_id, v.name_id_format, first, last, username, role, idp_id, now,
             now))
        return int(cur.lastrowid)
    # A SAML sign-in converts a local user of the same email (the seed: "Your user converts to a
    # SAML user"); attributes are re-provisioned at every login.
    if sp.m("jit_no_update"):
        c.execute("UPDATE users SET updated = ?, logins = logins + 1 WHERE id = ?", (now, row["id"]))
        return int(row["id"])
    if sp.m("role_fixed_at_first_login"):
        role = row["role"]
    if sp.m("saml_login_keeps_local") and row["kind"] == "local":
        c.execute("UPDATE users SET name_id = ?, first_name = ?, last_name = ?, updated = ?, "
                  "logins = logins + 1 WHERE id = ?", (v.name_id, first, last, now, row["id"]))
        return int(row["id"])
    c.execute(
        "UPDATE users SET name_id = ?, name_id_format = ?, first_name = ?, last_name = ?, "
        "username = ?, role = ?, kind = 'saml', bypass = 0, password_hash = NULL, idp_id = ?, "
        "updated = ?, logins = logins + 1 WHERE id = ?",
        (v.name_id, v.name_id_format, first, last, username, role, idp_id, now, row["id"]))
    return int(row["id"])


def _snapshot(sp: "RefSP", v: Verified, email: str, first: str, last: str, accounts: dict[str, str],
              tenants: list[str], role: str | None, username: str | None) -> dict[str, Any]:
    return {"id": None, "email": email.lower(), "name_id": v.name_id, "first_name": first,
            "last_name": last, "username": username, "kind": "saml", "bypass": False,
            "role": role, "accounts": accounts, "tenants": tenants, "idp_id": None, "logins": 1}


def _finish(sp: "RefSP", v: Verified, idp_id: str, email: str, first: str, last: str,
            memberships: dict[str, str], *, username: str | None = None, role: str | None = None,
            replace: bool = True, current_tenant: str | None = None,
            warnings: list[str] | None = None) -> ProvisionResult:
    email = _mutant_lookup(sp, v, email)
    is_rf = sp.profile == "redflag"
    snap = _snapshot(sp, v, email, first, last, {} if is_rf else memberships,
                     sorted(memberships) if is_rf else [], role, username)
    if sp.m("skip_jit"):
        return ProvisionResult(0, current_tenant, snap, warnings or [])
    with sp.store.tx() as c:
        existed = c.execute("SELECT id FROM users WHERE email = ?", (email.lower(),)).fetchone()
        uid = _upsert_user(sp, c, v, idp_id, email, first, last, username, role)
        if sp.cfg.scoped_attribute:
            c.execute("UPDATE users SET scoped = ? WHERE id = ?", (_scoped_value(sp, v, idp_id), uid))
        old = {r["scope_id"]: r["role"] for r in c.execute(
            "SELECT scope_id, role FROM memberships WHERE user_id = ?", (uid,)).fetchall()}
        if existed is not None and sp.m("reprovision_no_additions"):
            memberships = {k: r for k, r in memberships.items() if k in old}
        if existed is not None and sp.m("role_fixed_at_first_login"):
            memberships = {k: old.get(k, r) for k, r in memberships.items()}
        if replace:
            c.execute("DELETE FROM memberships WHERE user_id = ?", (uid,))
        for scope, r in memberships.items():
            c.execute("INSERT OR REPLACE INTO memberships (user_id, scope_id, role) VALUES (?,?,?)",
                      (uid, scope, r))
    return ProvisionResult(uid, current_tenant, snap, warnings or [])


SHIBMD = "urn:mace:shibboleth:metadata:1.0"


def idp_scopes(metadata: bytes) -> list[tuple[str, bool]]:
    """The <shibmd:Scope> values (scope, is_regexp) of an IdP's metadata: on the EntityDescriptor or
    its IDPSSODescriptor (Extensions)."""
    from lxml import etree

    root = etree.fromstring(metadata, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    return [((el.text or "").strip(), el.get("regexp", "false") in ("true", "1"))
            for el in root.iter(f"{{{SHIBMD}}}Scope")]


def _scoped_value(sp: "RefSP", v: Verified, idp_id: str) -> str | None:
    """The first value of the scoped attribute whose scope the IdP's metadata lists; out-of-scope
    values are dropped, as Shibboleth's ScopeMatchesShibMDScope filter drops them (the
    `ignores_scope` mutant keeps the first value whatever its scope)."""
    import re

    values = v.attributes.get(sp.cfg.scoped_attribute or "", [])
    if sp.m("ignores_scope"):
        return values[0] if values else None
    row = sp.idp(idp_id)
    scopes = idp_scopes(bytes(row["metadata"])) if row is not None else []
    for val in values:
        local, at, scope = val.rpartition("@")
        if not (local and at and scope):
            continue
        if any(re.fullmatch(sc, scope) if rx else sc.lower() == scope.lower() for sc, rx in scopes):
            return val
    return None


_LOOK_ALIKES = str.maketrans({"\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c",
                              "\u0445": "x", "\u0443": "y", "\u0456": "i", "\u200b": None, "\u200c": None,
                              "\u200d": None, "\ufeff": None})


def _mutant_lookup(sp: "RefSP", v: Verified, email: str) -> str:
    """The account-key defects (the correct SP keys users on the email exactly as asserted, lower-cased):
    `folds_identifiers` (NID-09) and `links_transient_nameid` (NID-08)."""
    if sp.m("folds_identifiers"):
        import unicodedata

        email = unicodedata.normalize("NFKC", email).translate(_LOOK_ALIKES)
    if sp.m("links_transient_nameid") and v.name_id:
        row = sp.store.one("SELECT email FROM users WHERE name_id = ? ORDER BY id", (v.name_id,))
        if row is not None:
            email = row["email"]
    return email


# --- generic -----------------------------------------------------------------------------------
def _generic(sp: "RefSP", v: Verified, idp_id: str) -> ProvisionResult:
    email = _single(sp, v.attributes, "Email", required=False) or v.name_id
    if not _valid_email(email):
        raise Rejected(f"no usable email: Email attribute and NameID give {email!r}", "ATTR-01")
    first = _single(sp, v.attributes, "FirstName", required=False)
    last = _single(sp, v.attributes, "LastName", required=False)
    return _finish(sp, v, idp_id, email, first, last, {})


# --- redis_cloud --------------------------------------------------------------------------------
def _domain_ok(sp: "RefSP", email: str, idp_id: str) -> bool:
    domain = email.rsplit("@", 1)[-1].lower()
    if sp.m("email_domain_first_at"):  # the defect: the domain ends at the next '@' (or the end)
        domain = email.split("@")[1].lower() if "@" in email else ""
    row = sp.store.one("SELECT * FROM domains WHERE domain = ?", (domain,))
    return row is not None and bool(row["verified"]) and row["idp_id"] == idp_id


def parse_account_mapping(sp: "RefSP", values: list[str], idp_id: str) -> tuple[dict[str, str], list[str]]:
    """`redisAccountMapping` in either form -> ({account: role}, [refusals])."""
    from .app import REDIS_ROLES

    if sp.m("mapping_first_value_only"):
        values = values[:1]
    pairs: list[str] = []
    for val in values:
        pairs.extend(p.strip() for p in val.split(","))
    granted: dict[str, str] = {}
    refused: list[str] = []
    refused_accounts: set[str] = set()
    for p in pairs:
        if not p:
            refused.append("an empty account mapping pair was ignored")
            continue
        if "=" not in p and sp.m("crashes_on_malformed_pair"):
            from werkzeug.exceptions import InternalServerError

            raise InternalServerError(f"cannot unpack {p!r}")  # the defect: an unguarded split
        if p.count("=") != 1:
            refused.append(f"{p!r} is not an ACCOUNT=role pair")
            continue
        acct, role = (x.strip() for x in p.split("="))
        if not ACCOUNT_RE.match(acct):
            refused.append(f"{p!r}: {acct!r} is not an account number")
            continue
        if role not in REDIS_ROLES and sp.m("roles_case_insensitive") and role.lower() in REDIS_ROLES:
            role = role.lower()
        if role not in REDIS_ROLES:
            if sp.m("owner_on_unknown_role"):
                role = "owner"
            else:
                refused.append(f"{p!r}: unknown role {role!r} (roles: {', '.join(REDIS_ROLES)})")
                refused_accounts.add(acct)
                continue
        row = sp.store.one("SELECT * FROM accounts WHERE id = ? AND kind = 'account'", (acct,))
        if (row is None or not row["saml_active"] or row["idp_id"] != idp_id) \
                and not (row is not None and sp.m("grants_unlinked_accounts")):
            refused.append(f"{p!r}: account {acct} is not SAML-enabled for this SAML configuration")
            refused_accounts.add(acct)
            continue
        if acct in granted and granted[acct] != role:
            refused.append(f"{p!r}: account {acct} is mapped to two different roles")
            refused_accounts.add(acct)
            continue
        granted[acct] = role
    for a in refused_accounts:
        granted.pop(a, None)  # never guess: a contradicted account gives no access
    return granted, refused


def _redis_cloud(sp: "RefSP", v: Verified, idp_id: str) -> ProvisionResult:
    a = v.attributes
    first = _single(sp, a, "FirstName")
    last = _single(sp, a, "LastName")
    email = _single(sp, a, "Email", required=not sp.m("email_falls_back_to_nameid")) or v.name_id
    mapping = _get(sp, a, "redisAccountMapping")
    if not mapping or not [x for x in mapping if x.strip()]:
        raise Rejected("the required attribute 'redisAccountMapping' is missing or empty", "ATTR-01")
    if not _valid_email(email) and not sp.m("email_domain_first_at"):
        raise Rejected(f"Email {email!r} is not an email address", "NID-07")
    if not sp.m("skip_domain_check") and not _domain_ok(sp, email, idp_id):
        raise Rejected(f"the domain of {email!r} is not verified for this SAML configuration",
                       "RC-DOMAIN")
    granted, refused = parse_account_mapping(sp, mapping, idp_id)
    if not granted:
        raise Rejected("no usable account mapping: " + "; ".join(refused), "RC-MAPPING")
    return _finish(sp, v, idp_id, email, first, last, granted, warnings=refused,
                   replace=not sp.m("keeps_removed_tenants"))


# --- redflag ------------------------------------------------------------------------------------
def _redflag(sp: "RefSP", v: Verified, idp_id: str, tenant: str | None) -> ProvisionResult:
    from .app import REDFLAG_ALIASES, REDFLAG_ROLES

    a = v.attributes
    username = _single(sp, a, "username")
    first = _single(sp, a, "firstname")
    last = _single(sp, a, "lastname")
    email = _single(sp, a, "email", required=not sp.m("email_falls_back_to_nameid")) or v.name_id
    role = _single(sp, a, "role")
    if not _valid_email(email):
        raise Rejected(f"email {email!r} is not an email address", "NID-07")
    if sp.m("role_split_on_comma") and "," in role:
        role = role.split(",")[-1].strip()
    if sp.m("roles_case_insensitive"):
        role = next((r for r in REDFLAG_ROLES if r.casefold() == role.casefold()), role)
    if role in REDFLAG_ALIASES and not sp.m("rejects_role_alias"):
        role = REDFLAG_ALIASES[role]
    if role not in REDFLAG_ROLES and sp.m("unknown_role_as_editor"):
        role = "Editor"
    if role not in REDFLAG_ROLES:
        raise Rejected(f"unknown role {role!r} (roles: {', '.join(REDFLAG_ROLES)}; Entra ID may "
                       "send Super_Administrator)", "RF-ROLE")
    raw = _get(sp, a, "tenantid") or []
    names: list[str] = []
    for val in raw:
        parts = [val] if sp.m("tenantid_no_split") else val.split(",")
        for t in parts:
            t = t.strip()
            if t and t not in names:
                names.append(t)
    if sp.m("wildcard_tenantid") and (not names or "*" in names):
        # the defect: an empty or "*" tenantid stands for every tenant of this IdP
        names = [r["id"] for r in sp.store.all(
            "SELECT id FROM accounts WHERE kind = 'tenant' AND idp_id = ?", (idp_id,))]
    if not names:
        raise Rejected("the required attribute 'tenantid' is empty", "ATTR-01")
    valid: list[str] = []
    for t in names:
        row = sp.store.one("SELECT * FROM accounts WHERE id = ? AND kind = 'tenant'", (t,))
        if row is None or not row["saml_active"]:
            continue
        if row["idp_id"] != idp_id and not sp.m("any_tenant_idp"):
            continue  # one IdP per tenant: this IdP cannot grant another IdP's tenant
        valid.append(t)
    if tenant is not None and tenant not in valid and sp.m("tenant_url_not_checked") and valid:
        tenant = None
    if tenant is not None and tenant not in valid:
        raise Rejected(f"the assertion does not grant the tenant {tenant!r} you signed in to "
                       f"(tenantid: {', '.join(names)})", "RF-TENANT")
    if not valid:
        raise Rejected(f"none of the tenants {names} is configured for this IdP", "RF-TENANT")
    current = valid[0] if sp.m("current_tenant_first_granted") else (tenant or valid[0])
    return _finish(sp, v, idp_id, email, first, last, {t: role for t in valid}, username=username,
                   role=role, replace=not sp.m("keeps_removed_tenants"), current_tenant=current)
