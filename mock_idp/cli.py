"""`samlconf idp ...`: list faults, print metadata, run the mock IdP standalone.

The harness CLI mounts this with ``mock_idp.cli.add_parser(subparsers)``; each leaf parser sets
``func`` to a handler taking the parsed ``argparse.Namespace`` and returning an exit code.
``python -m mock_idp.cli ...`` runs the same tree on its own.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Sequence, TextIO

from . import faults as _faults

__all__ = ["add_parser", "cmd_faults", "cmd_metadata", "cmd_serve", "main", "faults_table"]


def _err(msg: str) -> int:
    print(f"samlconf idp: {' '.join(str(msg).split())}", file=sys.stderr)
    return 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``idp`` command (with ``faults``, ``metadata``, ``serve``) to an argparse subparsers object."""
    p = subparsers.add_parser("idp", help="the bundled mock SAML Identity Provider",
                              description="The bundled mock SAML IdP: list its faults, print its metadata, run it.")
    sub = p.add_subparsers(dest="idp_command", metavar="{faults,metadata,serve}")
    sub.required = True

    f = sub.add_parser("faults", help="list every fault the IdP can send")
    f.add_argument("--json", action="store_true", help="machine-readable output")
    f.add_argument("--markdown", action="store_true", help="the table of docs/mock-idp.md")
    f.set_defaults(func=cmd_faults)

    m = sub.add_parser("metadata", help="print the IdP's metadata XML")
    _common(m)
    m.add_argument("--base-url", default=None, help="where the IdP will be reachable (default http://HOST:PORT)")
    m.add_argument("--out", type=Path, default=None, help="write to this file instead of stdout")
    m.set_defaults(func=cmd_metadata)

    s = sub.add_parser("serve", help="run the mock IdP until interrupted")
    _common(s)
    s.add_argument("--users", type=Path, default=None, help="users file (TOML [[users]] or YAML users: list)")
    s.add_argument("--sp-metadata", action="append", default=[], metavar="URL_OR_FILE",
                   help="SP metadata to trust (repeatable)")
    s.add_argument("--seed", type=int, default=1, help="seed for generated users (default 1)")
    s.set_defaults(func=cmd_serve)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--entity-id", default="urn:samlconf:mock-idp")
    p.add_argument("--profile", default="generic", choices=["generic", "redis_cloud", "redflag"],
                   help="attribute profile of generated users")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8088, help="port (0 = any free port; default 8088)")
    p.add_argument("--key-dir", type=Path, default=None, help="key cache (default $SAMLCONF_HOME or ~/.cache/samlconf)")


def faults_table(out: TextIO) -> None:
    """One block per fault: ``id  [stage]  description``, then its parameters and references."""
    rows = [f.to_dict() for f in _faults.all_faults()]
    width = min(32, max(len(r["id"]) for r in rows))
    for r in rows:
        desc = textwrap.fill(r["description"], 100, initial_indent=" " * (width + 14),
                             subsequent_indent=" " * (width + 14)).lstrip()
        out.write(f"{r['id']:{width}}  [{r['stage']}]{' ' * (10 - len(r['stage']))}{desc}\n")
        if r["params"]:
            out.write(" " * (width + 14) + "params: " + ", ".join(f"{k}={v!r}" for k, v in r["params"].items()) + "\n")
        out.write(" " * (width + 14) + "refs: " + ", ".join(r["refs"]) + "\n")
    out.write(f"{len(rows)} faults; parameterised ones take id(name=value,...), e.g. clock-skew(seconds=-600)\n")


def faults_markdown() -> str:
    """The fault table of docs/mock-idp.md (regenerate with ``samlconf idp faults --markdown``)."""
    lines = ["| ID | Stage | What the IdP sends | Parameters | References |", "|---|---|---|---|---|"]
    for f in _faults.all_faults():
        d = f.to_dict()
        params = ", ".join(f"`{k}={v!r}`" for k, v in d["params"].items())
        desc = d["description"].replace("|", "\\|")
        lines.append(f"| `{d['id']}` | {d['stage']} | {desc} | {params} | {', '.join(d['refs'])} |")
    return "\n".join(lines) + "\n"


def cmd_faults(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if getattr(args, "markdown", False):
        out.write(faults_markdown())
    elif getattr(args, "json", False):
        json.dump([f.to_dict() for f in _faults.all_faults()], out, indent=2)
        out.write("\n")
    else:
        faults_table(out)
    return 0


def _make_idp(args: argparse.Namespace, base_url: str, users: Any = None) -> Any:
    from .idp import MockIdP

    return MockIdP(args.entity_id, base_url=base_url, profile=args.profile, key_dir=args.key_dir, users=users)


def cmd_metadata(args: argparse.Namespace, out: TextIO | None = None) -> int:
    base = args.base_url or f"http://{args.host}:{args.port}"
    try:
        xml = _make_idp(args, base).metadata_xml()
    except (ValueError, OSError) as e:
        return _err(str(e))
    if args.out:
        try:
            args.out.write_bytes(xml)
        except OSError as e:
            return _err(f"{args.out}: cannot write ({e.strerror})")
        return 0
    (out or sys.stdout).write(xml.decode())
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO | None = None, *, block: bool = True) -> Any:
    """Run the IdP; with block=False return (server, idp) instead of serving forever (for tests)."""
    from harness.serving import LoopbackServer

    from .metadata import MetadataError
    from .users import UserFileError, generate_user, load_users

    out = out or sys.stdout
    try:
        users = load_users(args.users) if args.users else [generate_user(args.profile, seed=args.seed + i) for i in range(3)]
    except UserFileError as e:
        return _err(str(e))
    try:
        server = LoopbackServer(args.host, args.port)
    except OSError as e:
        return _err(f"cannot listen on {args.host}:{args.port} ({e.strerror})")
    try:
        idp = _make_idp(args, server.base_url, users)
        for src in args.sp_metadata:
            if src.startswith(("http://", "https://")):
                sp = idp.register_sp_url(src)
            else:
                sp = idp.register_sp_file(src)
            out.write(f"trusting SP {sp.entity_id} (ACS {sp.default_acs().location})\n")
    except (MetadataError, ValueError) as e:
        server.stop()
        return _err(str(e))
    server.start(idp.app())
    out.write(
        f"mock IdP {idp.entity_id} at {server.base_url}\n"
        f"  metadata:      {server.base_url}/metadata\n"
        f"  SSO:           {server.base_url}/sso  (Redirect and POST)\n"
        f"  IdP-initiated: {server.base_url}/idp-initiated\n"
        f"  users: {', '.join(u.name_id for u in idp.users)}\n"
    )
    out.flush()
    if not block:
        return server, idp
    try:
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samlconf")
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
