"""SQLite storage of the reference SP (stdlib sqlite3).

One connection shared by the server's threads, serialised by a re-entrant lock; every change runs
in one transaction (`with store.tx() as c:`), so concurrent logins lose no update. WAL journal so
readers in other processes (a harness inspecting the file) do not block writers.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["Store", "hash_password", "check_password"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS idps (
    id TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL,
    metadata BLOB NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (          -- redis_cloud accounts; redflag tenants
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                        -- 'account' | 'tenant'
    name TEXT NOT NULL DEFAULT '',
    idp_id TEXT,                               -- the SAML configuration it is bound to
    saml_active INTEGER NOT NULL DEFAULT 0,
    activated_by INTEGER
);
CREATE TABLE IF NOT EXISTS domains (
    domain TEXT PRIMARY KEY,
    idp_id TEXT NOT NULL,
    token TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    checked REAL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,                -- lower-cased
    name_id TEXT,
    name_id_format TEXT,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    username TEXT,
    role TEXT,                                 -- redflag: the one role
    kind TEXT NOT NULL,                        -- 'saml' | 'local'
    bypass INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    idp_id TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    logins INTEGER NOT NULL DEFAULT 0,
    scoped TEXT                                -- the scoped attribute's kept value (TEN-05)
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope_id TEXT NOT NULL,                    -- account number or tenant name
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, scope_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    sid TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    auth_method TEXT NOT NULL,
    name_id TEXT,
    session_index TEXT,
    idp_id TEXT,
    current_tenant TEXT,
    snapshot TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_ids (
    id TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS link_requests (
    token TEXT PRIMARY KEY,
    idp_id TEXT NOT NULL,
    source_account TEXT NOT NULL,
    created_by INTEGER NOT NULL,
    target_account TEXT,
    requested_by INTEGER,
    status TEXT NOT NULL,                      -- 'open' | 'requested' | 'linked'
    created REAL NOT NULL
);
"""

TABLES = ("link_requests", "seen_ids", "sessions", "memberships", "users", "domains", "accounts",
          "idps")


def hash_password(password: str, *, iterations: int = 20_000) -> str:
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${dk.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        algo, it, salt, dk = stored.split("$")
        if algo != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(it))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), dk)


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                     timeout=30)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, and fast
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.executescript(SCHEMA)

    # --- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction (BEGIN IMMEDIATE ... COMMIT/ROLLBACK)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, args))

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def reset(self) -> None:
        with self.tx() as c:
            for t in TABLES:
                c.execute(f"DELETE FROM {t}")  # noqa: S608 - fixed table names

    # --- replay cache --------------------------------------------------------------------------
    def consume_ids(self, ids: list[str], expires: float) -> bool:
        """Record IDs as used; False (and nothing recorded) if any was seen before. Atomic."""
        now = time.time()
        with self.tx() as c:
            c.execute("DELETE FROM seen_ids WHERE expires < ?", (now,))
            for i in ids:
                if c.execute("SELECT 1 FROM seen_ids WHERE id = ?", (i,)).fetchone():
                    return False
            for i in ids:
                c.execute("INSERT INTO seen_ids (id, expires) VALUES (?, ?)", (i, expires))
        return True

    # --- users ---------------------------------------------------------------------------------
    def user_by_email(self, email: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM users WHERE email = ?", (email.lower(),))

    def user_by_id(self, uid: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM users WHERE id = ?", (uid,))

    def memberships(self, uid: int) -> dict[str, str]:
        return {r["scope_id"]: r["role"] for r in
                self.all("SELECT scope_id, role FROM memberships WHERE user_id = ? ORDER BY scope_id",
                         (uid,))}

    def delete_user(self, c: sqlite3.Connection, uid: int) -> None:
        c.execute("DELETE FROM sessions WHERE user_id = ?", (uid,))
        c.execute("DELETE FROM memberships WHERE user_id = ?", (uid,))
        c.execute("DELETE FROM users WHERE id = ?", (uid,))

    # --- sessions ------------------------------------------------------------------------------
    def session(self, sid: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM sessions WHERE sid = ? AND expires > ?", (sid, time.time()))
