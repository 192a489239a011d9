"""`samlconf sp ...`: run the reference SP alone, list its mutants.

The harness CLI mounts this tree with `add_parser(subparsers)`; each handler returns an exit code
(0 ok, 2 usage/config error with one line on stderr).

    samlconf sp serve --profile redflag --port 5000 [--mutant NAME]... [--idp-metadata URL|FILE]
    samlconf sp mutants [--json]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

from . import mutants as _m

__all__ = ["add_parser", "serve", "list_mutants", "main"]


class _UsageError(Exception):
    pass


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    sp = subparsers.add_parser("sp", help="the bundled reference SP (serve it, list its mutants)")
    sub = sp.add_subparsers(dest="sp_command", metavar="COMMAND")
    sp.set_defaults(func=lambda a: (sp.print_help(), 2)[1])

    s = sub.add_parser("serve", help="serve the reference SP on 127.0.0.1")
    s.add_argument("--profile", default="redis_cloud", choices=("generic", "redis_cloud", "redflag"))
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--base-url", help="public base URL (default http://HOST:PORT)")
    s.add_argument("--mutant", action="append", default=[], metavar="NAME",
                   help="switch a defect on (repeatable; env SAMLCONF_MUTANT adds comma-separated names)")
    s.add_argument("--idp-metadata", metavar="URL|FILE", help="the IdP's metadata (URL or file)")
    s.add_argument("--db", metavar="FILE", help="SQLite file (default: ./reference_sp.sqlite)")
    s.add_argument("--admin-token", help="admin API token (default: env SAMLCONF_REFSP_TOKEN or random, printed)")
    s.add_argument("--dns-resolver", metavar="HOST[:PORT]", help="resolver for domain TXT checks")
    s.add_argument("--domain", action="append", default=[], help="pre-verified domain (redis_cloud)")
    s.add_argument("--account", action="append", default=[], help="SAML-active account (redis_cloud)")
    s.add_argument("--tenant", action="append", default=[], help="SAML-active tenant (redflag)")
    s.add_argument("--config", metavar="FILE", help="the whole configuration as JSON (written by the harness "
                   "when it starts the SP as a process of its own); the other options are then ignored")
    s.set_defaults(func=serve)

    m = sub.add_parser("mutants", help="list every mutant: name, defect, what it breaks")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=list_mutants)
    return sp


def _load_metadata(src: str) -> bytes:
    if src.startswith(("http://", "https://")):
        import httpx

        try:
            r = httpx.get(src, timeout=10)
        except httpx.HTTPError as e:
            raise _UsageError(f"--idp-metadata {src}: cannot fetch ({type(e).__name__})") from None
        if r.status_code != 200:
            raise _UsageError(f"--idp-metadata {src}: HTTP {r.status_code}")
        return r.content
    try:
        return Path(src).read_bytes()
    except OSError as e:
        raise _UsageError(f"--idp-metadata {src}: cannot read ({e.strerror})") from None


def _fail(msg: str) -> int:
    print(f"samlconf sp: {msg}", file=sys.stderr)
    return 2


def serve(args: argparse.Namespace) -> int:
    from .app import SPConfig, create_app
    from .saml import Rejected

    try:
        muts = _m.parse_mutants(list(args.mutant)) | _m.from_env()
        md = _load_metadata(args.idp_metadata) if args.idp_metadata else None
        base = args.base_url or f"http://{args.host}:{args.port}"
        kw: dict[str, Any] = {}
        if args.domain:
            kw["domains"] = tuple(args.domain)
        if args.account:
            kw["accounts"] = tuple(args.account)
        if args.tenant:
            kw["tenants"] = tuple(args.tenant)
        token = args.admin_token or os.environ.get("SAMLCONF_REFSP_TOKEN")
        if token:
            kw["admin_token"] = token
        if getattr(args, "config", None):
            try:
                cfg = SPConfig.from_json(Path(args.config).read_text(encoding="utf-8"))
            except (OSError, ValueError, TypeError) as e:
                raise _UsageError(f"--config {args.config}: not a reference SP configuration ({e})") from None
            muts, md, token = cfg.mutants, cfg.idp_metadata, cfg.admin_token
            base = cfg.base_url
            args.port = urlsplit(base).port or args.port
        else:
            cfg = SPConfig(base_url=base, idp_metadata=md, db_path=Path(args.db or "reference_sp.sqlite"),
                           profile=args.profile, mutants=muts, dns_resolver=args.dns_resolver, **kw)
        app = create_app(cfg)
    except (_UsageError, _m.UnknownMutant, ValueError, Rejected) as e:
        return _fail(f"--idp-metadata: {e}" if isinstance(e, Rejected) else str(e))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"reference SP ({cfg.profile}) on {base}  metadata {base}/saml/metadata", file=sys.stderr)
    print(f"mutants: {', '.join(sorted(muts)) or 'none'}", file=sys.stderr)
    if not token:
        print(f"admin token: {cfg.admin_token}", file=sys.stderr)
    if md is None:
        print("no IdP metadata yet: POST it to /admin/api/idps", file=sys.stderr)
    try:
        from waitress import serve as wserve

        wserve(app, host=args.host, port=args.port, threads=8, _quiet=True)
    except ImportError:
        app.run(host=args.host, port=args.port, threaded=True)
    except OSError as e:
        return _fail(f"cannot listen on {args.host}:{args.port} ({e.strerror})")
    return 0


def list_mutants(args: argparse.Namespace) -> int:
    items = [m.to_dict() for m in _m.MUTANTS.values()]
    if getattr(args, "json", False):
        print(json.dumps({"mutants": items}, indent=2))
        return 0
    w = max(len(m["name"]) for m in items)
    for m in items:
        print(f"{m['name']:<{w}}  {m['defect']}")
        print(f"{'':<{w}}  breaks: {', '.join(m['breaks'])}; profiles: {', '.join(m['profiles'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="samlconf")
    sub = p.add_subparsers(dest="command")
    add_parser(sub)
    args = p.parse_args(argv)
    if not hasattr(args, "func"):
        p.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
