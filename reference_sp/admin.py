"""Admin API of the reference SP: the harness's target hooks call exactly this.

Every endpoint needs `Authorization: Bearer <admin_token>` and a loopback client address. Bodies are
JSON; errors are `{"error": "..."}` with a 4xx status. Actions taken "by" a user name that user by
email in `by` (the console user who would click the button).
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from functools import wraps
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask, Response, jsonify, request

from .saml import Rejected
from .store import hash_password

if TYPE_CHECKING:
    from .app import RefSP


def json_type(v: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if v is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__) + (f" ({v!r})" if isinstance(v, str) else "")


class AdminError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def register_admin(app: Flask, sp: "RefSP") -> None:
    from .app import REDFLAG_ROLES, REDIS_ROLES, TXT_PREFIX

    store = sp.store

    def admin(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            if not _loopback(request.remote_addr):
                return jsonify({"error": "the admin API answers loopback clients only"}), 403
            auth = request.headers.get("Authorization", "")
            tok = auth[7:] if auth.startswith("Bearer ") else ""
            if not tok or not hmac.compare_digest(tok.encode(), sp.cfg.admin_token.encode()):
                return jsonify({"error": "missing or wrong admin token"}), 401
            try:
                return fn(*a, **kw)
            except AdminError as e:
                return jsonify({"error": e.message}), e.status
        return wrapper

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise AdminError("the body must be a JSON object")
        return data

    def need(data: dict[str, Any], key: str) -> str:
        v = text(data, key)
        if v is None or v == "":
            raise AdminError(f"missing field {key!r}")
        return v

    def text(data: dict[str, Any], key: str, default: str | None = None) -> str | None:
        """A string field (a JSON number is taken as its text: account ids); anything else is a 400."""
        v = data.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise AdminError(f"field {key!r} must be a string, not {type(v).__name__}")
        return str(v).strip()

    def flag(data: dict[str, Any], key: str, default: bool) -> bool:
        """A JSON boolean: "false" (a string) must never switch anything on."""
        v = data.get(key, default)
        if not isinstance(v, bool):
            raise AdminError(f"field {key!r} must be true or false, not {json_type(v)}")
        return v

    def strings(data: dict[str, Any], key: str) -> list[str]:
        v = data.get(key)
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
            raise AdminError(f"field {key!r} must be a list of strings")
        return [str(x) for x in v]

    def mapping(data: dict[str, Any], key: str) -> dict[str, str]:
        v = data.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
            raise AdminError(f"field {key!r} must be an object of strings (account -> role)")
        return {str(k): x for k, x in v.items()}

    def user(email: str) -> Any:
        u = store.user_by_email(email)
        if u is None:
            raise AdminError(f"no user {email!r}", 404)
        return u

    def account(acct: str, kind: str = "account") -> Any:
        row = store.one("SELECT * FROM accounts WHERE id = ? AND kind = ?", (acct, kind))
        if row is None:
            raise AdminError(f"no {kind} {acct!r}", 404)
        return row

    def is_owner(uid: int, acct: str) -> bool:
        return store.memberships(uid).get(acct) == "owner"

    def convert_users(c: Any, acct: str, keep_uid: int | None) -> tuple[list[str], list[str]]:
        """Activation: local users of `acct` become SAML users, except `keep_uid`."""
        converted, kept = [], []
        rows = c.execute("SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id "
                         "WHERE m.scope_id = ? AND u.kind = 'local'", (acct,)).fetchall()
        for u in rows:
            keep = (u["id"] == keep_uid and not sp.m("converts_owner_at_activation")) \
                or sp.m("local_login_after_activation")
            if keep:
                kept.append(u["email"])
                continue
            c.execute("UPDATE users SET kind = 'saml', password_hash = NULL, bypass = 0, "
                      "updated = ? WHERE id = ?", (time.time(), u["id"]))
            c.execute("DELETE FROM sessions WHERE user_id = ? AND auth_method = 'password'",
                      (u["id"],))
            converted.append(u["email"])
        return converted, kept

    # --- inspection ----------------------------------------------------------------------------
    @app.get("/admin/api/users")
    @admin
    def list_users() -> Response:
        rows = store.all("SELECT * FROM users ORDER BY email")
        return jsonify({"users": [sp.user_json(u) for u in rows]})

    @app.get("/admin/api/users/<path:email>")
    @admin
    def get_user(email: str) -> Response:
        return jsonify(sp.user_json(user(email)))

    @app.get("/admin/api/state")
    @admin
    def state() -> Response:
        return jsonify({
            "profile": sp.profile,
            "mutants": sorted(sp.cfg.mutants),
            "entity_id": sp.cfg.entity_id,
            "acs_url": sp.cfg.acs_url,
            "idps": [{"id": r["id"], "entity_id": r["entity_id"]} for r in sp.idps()],
            "accounts": [dict(r) for r in store.all("SELECT * FROM accounts WHERE kind='account' ORDER BY id")],
            "tenants": [dict(r) for r in store.all("SELECT * FROM accounts WHERE kind='tenant' ORDER BY id")],
            "domains": [dict(r) for r in store.all("SELECT * FROM domains ORDER BY domain")],
            "sessions": store.one("SELECT COUNT(*) AS n FROM sessions")["n"],  # type: ignore[index]
        })

    @app.post("/admin/api/reset")
    @admin
    def reset() -> Response:
        store.reset()
        sp.seed()
        return jsonify({"ok": True})

    # --- users ---------------------------------------------------------------------------------
    @app.delete("/admin/api/users/<path:email>")
    @admin
    def delete_user(email: str) -> Response:
        u = user(email)
        with store.tx() as c:
            n = c.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ?", (u["id"],)).fetchone()[0]
            if sp.m("session_outlives_user"):
                c.execute("DELETE FROM memberships WHERE user_id = ?", (u["id"],))
                c.execute("DELETE FROM users WHERE id = ?", (u["id"],))
                n = 0
            else:
                store.delete_user(c, u["id"])
        return jsonify({"deleted": u["email"], "sessions_revoked": n})

    def _create_local(data: dict[str, Any], *, bypass: bool) -> Any:
        email = need(data, "email").lower()
        pw = need(data, "password")
        if store.user_by_email(email) is not None:
            raise AdminError(f"user {email!r} exists", 409)
        scopes: dict[str, str] = {}
        if sp.profile == "redflag":
            role = text(data, "role") or "Editor"
            if role not in REDFLAG_ROLES:
                raise AdminError(f"unknown role {role!r}")
            for t in strings(data, "tenants"):
                account(t, "tenant")
                scopes[t] = role
        else:
            role = None
            for a, r in mapping(data, "accounts").items():
                if r not in REDIS_ROLES:
                    raise AdminError(f"unknown role {r!r}")
                account(str(a))
                scopes[str(a)] = r
        now = time.time()
        with store.tx() as c:
            cur = c.execute(
                "INSERT INTO users (email, first_name, last_name, username, role, kind, bypass, "
                "password_hash, created, updated) VALUES (?,?,?,?,?,'local',?,?,?,?)",
                (email, text(data, "first_name", ""), text(data, "last_name", ""),
                 text(data, "username"), role, int(bypass), hash_password(pw), now, now))
            uid = cur.lastrowid
            for s, r in scopes.items():
                c.execute("INSERT INTO memberships (user_id, scope_id, role) VALUES (?,?,?)",
                          (uid, s, r))
        return store.user_by_id(int(uid))  # type: ignore[arg-type]

    @app.post("/admin/api/local-users")
    @admin
    def add_local_user() -> Response:
        return jsonify(sp.user_json(_create_local(body(), bypass=False))), 201  # type: ignore[return-value]

    @app.post("/admin/api/bypass-users")
    @admin
    def add_bypass_user() -> Response:
        data = body()
        acct = need(data, "account")
        row = account(acct)
        if not row["saml_active"]:
            raise AdminError(f"SAML is not active for account {acct}; bypass users are added "
                             "after activation", 409)
        if "by" in data:
            by = user(need(data, "by"))
            if not is_owner(by["id"], acct) or by["kind"] != "local":
                raise AdminError(f"{by['email']} is not a local owner of account {acct}", 403)
        data = dict(data, accounts={acct: text(data, "role") or "viewer"})
        return jsonify(sp.user_json(_create_local(data, bypass=True))), 201  # type: ignore[return-value]

    # --- IdPs, accounts, tenants, domains ------------------------------------------------------
    @app.post("/admin/api/idps")
    @admin
    def put_idp() -> Response:
        data = body()
        idp_id = need(data, "id")
        md = need(data, "metadata_xml").encode()
        try:
            info = sp.put_idp(idp_id, md)
        except Rejected as e:
            raise AdminError(f"bad IdP metadata: {e.message}") from None
        except ValueError as e:
            raise AdminError(f"bad IdP metadata: {e}") from None
        if idp_id == sp.cfg.idp_id:
            sp.seed(load_idp=False)  # the configured domains/accounts/tenants bind to the default IdP
        return jsonify({"id": idp_id, "entity_id": info.entity_id})

    @app.delete("/admin/api/idps/<idp_id>")
    @admin
    def delete_idp(idp_id: str) -> Response:
        """Remove an added SAML configuration with what is bound to it (samlconf's `delete_idp`
        hook, after a scenario that added one); the configured default IdP stays."""
        if idp_id == sp.cfg.idp_id:
            raise AdminError(f"{idp_id!r} is the configured IdP; replace it with POST instead", 409)
        if sp.idp(idp_id) is None:
            raise AdminError(f"no SAML configuration {idp_id!r}", 404)
        return jsonify({"deleted": idp_id, "removed": sp.delete_idp(idp_id)})

    @app.post("/admin/api/accounts")
    @admin
    def add_account() -> Response:
        data = body()
        acct = need(data, "id")
        if not acct.isdigit():
            raise AdminError("an account id is a number")
        idp_id = text(data, "idp_id")
        if idp_id and sp.idp(idp_id) is None:
            raise AdminError(f"no SAML configuration {idp_id!r}", 404)
        with store.tx() as c:
            c.execute("INSERT OR REPLACE INTO accounts (id, kind, name, idp_id, saml_active) "
                      "VALUES (?, 'account', ?, ?, ?)",
                      (acct, text(data, "name") or f"account {acct}", idp_id,
                       int(flag(data, "saml_active", False))))
        return jsonify(dict(account(acct))), 201  # type: ignore[return-value]

    @app.post("/admin/api/tenants")
    @admin
    def add_tenant() -> Response:
        data = body()
        t = need(data, "id")
        idp_id = need(data, "idp_id")
        if sp.idp(idp_id) is None:
            raise AdminError(f"no IdP {idp_id!r}", 404)
        with store.tx() as c:
            c.execute("INSERT OR REPLACE INTO accounts (id, kind, name, idp_id, saml_active) "
                      "VALUES (?, 'tenant', ?, ?, ?)", (t, t, idp_id,
                                                        int(flag(data, "saml_active", True))))
        return jsonify(dict(account(t, "tenant"))), 201  # type: ignore[return-value]

    @app.post("/admin/api/domains")
    @admin
    def add_domain() -> Response:
        data = body()
        d = need(data, "domain").lower().rstrip(".")
        idp_id = text(data, "idp_id") or sp.cfg.idp_id
        if sp.idp(idp_id) is None:
            raise AdminError(f"no SAML configuration {idp_id!r}", 404)
        token = secrets.token_hex(16)
        with store.tx() as c:
            c.execute("INSERT OR REPLACE INTO domains (domain, idp_id, token, verified) "
                      "VALUES (?,?,?,0)", (d, idp_id, token))
        return jsonify({"domain": d, "idp_id": idp_id, "status": "pending",
                        "txt_record": TXT_PREFIX + token}), 201  # type: ignore[return-value]

    @app.post("/admin/api/domains/<domain>/verify")
    @admin
    def verify_domain(domain: str) -> Response:
        from .dnscheck import txt_records

        row = store.one("SELECT * FROM domains WHERE domain = ?", (domain.lower(),))
        if row is None:
            raise AdminError(f"no domain {domain!r}", 404)
        want = TXT_PREFIX + row["token"]
        try:
            found = txt_records(row["domain"], sp.cfg.dns_resolver)
            err = None
        except Exception as e:  # noqa: BLE001 - any DNS failure means "not verified"
            found, err = [], f"{type(e).__name__}: {e}"
        ok = want in found or sp.m("verify_domain_without_txt")
        with store.tx() as c:
            c.execute("UPDATE domains SET verified = ?, checked = ? WHERE domain = ?",
                      (int(ok or bool(row["verified"])), time.time(), row["domain"]))
        out: dict[str, Any] = {"domain": row["domain"], "status": "verified" if ok or row["verified"]
                               else "pending"}
        if not ok and not row["verified"]:
            out["error"] = err or f"no TXT record {want!r} found"
        return jsonify(out)

    @app.delete("/admin/api/domains/<domain>")
    @admin
    def delete_domain(domain: str) -> Response:
        with store.tx() as c:
            n = c.execute("DELETE FROM domains WHERE domain = ?", (domain.lower(),)).rowcount
        if not n:
            raise AdminError(f"no domain {domain!r}", 404)
        return jsonify({"deleted": domain.lower()})

    # --- SAML activation / deactivation --------------------------------------------------------
    @app.post("/admin/api/saml/activate")
    @admin
    def activate() -> Response:
        data = body()
        acct = need(data, "account")
        row = account(acct)
        by = user(need(data, "by"))
        if by["kind"] != "local" or not is_owner(by["id"], acct):
            raise AdminError(f"{by['email']} is not a local owner of account {acct}", 403)
        idp_id = text(data, "idp_id") or row["idp_id"] or sp.cfg.idp_id
        if sp.idp(idp_id) is None:
            raise AdminError(f"no SAML configuration {idp_id!r}", 404)
        if not store.one("SELECT 1 FROM domains WHERE idp_id = ? AND verified = 1", (idp_id,)):
            raise AdminError("verify at least one domain before activating SAML", 409)
        with store.tx() as c:
            c.execute("UPDATE accounts SET idp_id = ?, saml_active = 1, activated_by = ? WHERE id = ?",
                      (idp_id, by["id"], acct))
            converted, kept = convert_users(c, acct, by["id"])
        return jsonify({"account": acct, "idp_id": idp_id, "converted": converted,
                        "kept_local": kept})

    @app.post("/admin/api/saml/deactivate")
    @admin
    def deactivate() -> Response:
        data = body()
        acct = need(data, "account")
        account(acct)
        by = user(need(data, "by"))
        if (by["kind"] != "local" or not is_owner(by["id"], acct)) \
                and not sp.m("deactivate_without_owner_check"):
            raise AdminError(f"{by['email']} is not a local owner of account {acct}; sign in as "
                             "a local owner to deactivate SAML", 403)
        removed: list[str] = []
        with store.tx() as c:
            c.execute("UPDATE accounts SET saml_active = 0, idp_id = NULL WHERE id = ?", (acct,))
            if not sp.m("keeps_saml_users_at_deactivation"):
                rows = c.execute("SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id "
                                 "WHERE m.scope_id = ? AND u.kind = 'saml'", (acct,)).fetchall()
                for u in rows:
                    c.execute("DELETE FROM memberships WHERE user_id = ? AND scope_id = ?",
                              (u["id"], acct))
                    left = c.execute("SELECT COUNT(*) FROM memberships WHERE user_id = ?",
                                     (u["id"],)).fetchone()[0]
                    if not left:
                        store.delete_user(c, u["id"])
                    removed.append(u["email"])
        return jsonify({"account": acct, "removed": removed})

    # --- linking accounts ----------------------------------------------------------------------
    @app.post("/admin/api/link-token")
    @admin
    def link_token() -> Response:
        data = body()
        acct = need(data, "account")
        row = account(acct)
        by = user(need(data, "by"))
        if not row["saml_active"] or not row["idp_id"]:
            raise AdminError(f"account {acct} has no active SAML configuration", 409)
        if not is_owner(by["id"], acct) and not sp.m("link_without_owner_check"):
            raise AdminError(f"{by['email']} is not an owner of account {acct}", 403)
        token = secrets.token_urlsafe(24)
        with store.tx() as c:
            c.execute("INSERT INTO link_requests (token, idp_id, source_account, created_by, status, "
                      "created) VALUES (?,?,?,?, 'open', ?)",
                      (token, row["idp_id"], acct, by["id"], time.time()))
        return jsonify({"token": token, "account": acct, "idp_id": row["idp_id"]})

    @app.post("/admin/api/link-request")
    @admin
    def link_request() -> Response:
        data = body()
        token = need(data, "token")
        acct = need(data, "account")
        account(acct)
        by = user(need(data, "by"))
        lr = store.one("SELECT * FROM link_requests WHERE token = ?", (token,))
        if lr is None or lr["status"] != "open":
            raise AdminError("unknown or used link token", 404)
        if not sp.m("link_without_owner_check"):
            if by["id"] != lr["created_by"]:
                raise AdminError("the same user who created the token must link each account", 403)
            if not is_owner(by["id"], acct):
                raise AdminError(f"{by['email']} is not an owner of account {acct}", 403)
        with store.tx() as c:
            c.execute("UPDATE link_requests SET target_account = ?, requested_by = ?, "
                      "status = 'requested' WHERE token = ?", (acct, by["id"], token))
        return jsonify({"status": "requested", "account": acct, "idp_id": lr["idp_id"]})

    @app.post("/admin/api/link-approve")
    @admin
    def link_approve() -> Response:
        data = body()
        acct = need(data, "account")
        account(acct)
        by = user(need(data, "by"))
        lr = store.one("SELECT * FROM link_requests WHERE target_account = ? AND status = "
                       "'requested' ORDER BY created DESC", (acct,))
        if lr is None:
            raise AdminError(f"no pending link request for account {acct}", 404)
        if not sp.m("link_without_owner_check"):
            if by["id"] != lr["created_by"] or not is_owner(by["id"], lr["source_account"]):
                raise AdminError("only the owner who created the token can approve the link", 403)
        with store.tx() as c:
            c.execute("UPDATE accounts SET idp_id = ?, saml_active = 1, activated_by = ? WHERE id = ?",
                      (lr["idp_id"], by["id"], acct))
            c.execute("UPDATE link_requests SET status = 'linked' WHERE token = ?", (lr["token"],))
            converted, kept = convert_users(c, acct, by["id"])
        return jsonify({"status": "linked", "account": acct, "idp_id": lr["idp_id"],
                        "converted": converted, "kept_local": kept})

    # --- restart (RPL-04): what a process restart loses -----------------------------------------
    @app.post("/admin/api/restart")
    @admin
    def restart() -> Response:
        """Drop everything the SP process holds in memory (SAML clients, metadata, and under the
        `replay_cache_in_memory` mutant its replay cache), as a restart does; the database stays."""
        sp.restart()
        return jsonify({"status": "restarted"})
