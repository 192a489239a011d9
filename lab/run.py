"""The interop lab: install, start and run samlconf against every lab target; check the verdict matrix.

    python -m lab.run                      # every target: install what is missing, run, compare, report
    python -m lab.run --target shibboleth-sp --target ruby-saml
    python -m lab.run --list               # the targets and their manifests
    python -m lab.run --target pysaml2-4.4.0 --scenario XML-05    # a subset: only those rows are compared
    python -m lab.run --update-expected    # rewrite lab/expected.toml from this run (a maintainer reviews it)

Each target is a directory with a manifest `lab.toml` (see lab/README.md). For each target, in
sequence: its install command (idempotent), the mock IdP's metadata written for the target's fixed
IdP port, its start command (foreground, its own process group, stopped by that pid), a readiness
URL, then `samlconf run` with the target file, every verdict compared with lab/expected.toml.
One matrix report (HTML + JSON) is written with targets as columns and scenarios as rows.

Exit codes: 0 every verdict as expected, 1 a deviation (each printed: scenario, target, seen,
expected) or a target that could not be installed/started, 2 a usage or manifest error.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parent
EXPECTED_FILE = LAB_DIR / "expected.toml"
PORT_RANGE = range(9600, 9700)
UNREVIEWED = "UNREVIEWED"
VERDICTS = ("pass", "fail", "warn", "info", "not-tested", "inconclusive", "error")


class LabError(Exception):
    """A manifest, expected file or usage problem: one line, exit 2."""


# --- manifest -------------------------------------------------------------------------------
class Manifest(BaseModel):
    """lab/<target>/lab.toml. Commands run with `bash -c` in the target's directory."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    product: str
    version: str
    language: str
    kind: str = "real-sp"  # real-sp | twin | reference
    notes: str = ""
    install: str = ""  # idempotent; quick when everything is there
    start: str  # foreground; stays up until SIGTERM to its process group
    ready_url: str  # polled until it answers (any HTTP status below 500)
    target: str = "target.toml"  # samlconf target file, relative to the manifest
    profile: str | None = None  # override the target file's profile
    port: int  # the SP's loopback port (9600-9699)
    idp_port: int  # the mock IdP's fixed port (the target file's [idp] port)
    idp_metadata: bool = True  # write the IdP's metadata to $LAB_IDP_METADATA before start
    install_timeout: float = 900.0
    ready_timeout: float = 60.0
    suite_timeout: float = 600.0
    scenarios: list[str] = Field(default_factory=list)  # run only these (default: the whole suite)
    env: dict[str, str] = Field(default_factory=dict)

    # set after loading
    dir: Path = Path(".")


def load_manifest(path: Path) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LabError(f"{_rel(path)}: cannot read: {' '.join(str(exc).split())}") from None
    try:
        m = Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise LabError(f"{_rel(path)}: field '{where}': {err['msg']}") from None
    m.dir = path.parent
    for key in ("port", "idp_port"):
        if getattr(m, key) not in PORT_RANGE:
            raise LabError(f"{_rel(path)}: field '{key}': {getattr(m, key)} is outside the lab's ports 9600-9699")
    if m.port == m.idp_port:
        raise LabError(f"{_rel(path)}: field 'idp_port': same as 'port'")
    target_file = m.dir / m.target
    if not target_file.is_file():
        raise LabError(f"{_rel(path)}: field 'target': {_rel(target_file)} not found")
    try:
        tdata = tomllib.loads(target_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{_rel(target_file)}: not valid TOML: {exc}") from None
    tport = tdata.get("idp", {}).get("port")
    if tport != m.idp_port:
        raise LabError(f"{_rel(target_file)}: [idp] port is {tport}, the manifest's idp_port is {m.idp_port}")
    return m


def discover(root: Path = LAB_DIR) -> list[Manifest]:
    """Every lab.toml under lab/ (twins included), sorted by name; names and ports are unique."""
    manifests = [load_manifest(p) for p in sorted(root.rglob("lab.toml")) if "_run" not in p.parts]
    seen_names: dict[str, Path] = {}
    seen_ports: dict[int, str] = {}
    for m in manifests:
        if m.name in seen_names:
            raise LabError(f"{_rel(m.dir / 'lab.toml')}: name {m.name!r} is already used by {_rel(seen_names[m.name])}")
        seen_names[m.name] = m.dir / "lab.toml"
        for port in (m.port, m.idp_port):
            if port in seen_ports:
                raise LabError(f"{_rel(m.dir / 'lab.toml')}: port {port} is already used by {seen_ports[port]}")
            seen_ports[port] = m.name
    return sorted(manifests, key=lambda m: m.name)


# --- expected matrix ------------------------------------------------------------------------
@dataclass
class Expectation:
    verdict: str
    why: str


def load_expected(path: Path = EXPECTED_FILE) -> dict[str, dict[str, Expectation]]:
    """expected.toml: `[target]` tables of `"SCENARIO-ID" = { verdict = "...", why = "..." }`."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"{_rel(path)}: not valid TOML: {exc}") from None
    out: dict[str, dict[str, Expectation]] = {}
    for target, rows in data.items():
        if not isinstance(rows, dict):
            raise LabError(f"{_rel(path)}: {target!r} must be a table of scenarios")
        out[target] = {}
        for sid, row in rows.items():
            if not isinstance(row, dict) or set(row) != {"verdict", "why"}:
                raise LabError(f"{_rel(path)}: [{target}] {sid}: write it as {{ verdict = \"...\", why = \"...\" }}")
            if row["verdict"] not in VERDICTS:
                raise LabError(f"{_rel(path)}: [{target}] {sid}: unknown verdict {row['verdict']!r}")
            if not str(row["why"]).strip():
                raise LabError(f"{_rel(path)}: [{target}] {sid}: 'why' is empty")
            out[target][sid] = Expectation(row["verdict"], str(row["why"]))
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def write_expected(path: Path, expected: dict[str, dict[str, Expectation]], header: str) -> None:
    lines = [header.rstrip(), ""]
    for target in sorted(expected):
        lines.append(f"[{_toml_str(target) if not target.replace('-', '').replace('_', '').isalnum() else target}]")
        for sid in sorted(expected[target]):
            e = expected[target][sid]
            lines.append(f"{_toml_str(sid)} = {{ verdict = {_toml_str(e.verdict)}, why = {_toml_str(e.why)} }}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


EXPECTED_HEADER = """\
# The lab's expected verdict matrix: per target (lab/**/lab.toml `name`), per scenario, the verdict
# `./dev lab` must see and one line of why, traced to lab/truth.toml (a fact measured by an
# independent probe) or to the SP's documented behaviour. CI fails on any deviation.
# `python -m lab.run --update-expected` rewrites it from a run: rows whose verdict changed get a
# why starting with UNREVIEWED, which fails the check until a maintainer writes the real reason."""


# --- running one target ---------------------------------------------------------------------
@dataclass
class TargetRun:
    manifest: Manifest
    status: str = "ok"  # ok | install-failed | start-failed | suite-failed | skipped
    detail: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)


def _log(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def _tail(path: Path, n: int = 5) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-n:])


class Lab:
    def __init__(self, report_dir: Path, work_dir: Path, python: str, install: bool = True) -> None:
        self.report_dir = report_dir
        self.work_dir = work_dir
        self.python = python
        self.do_install = install
        # One key cache for the whole lab: the metadata written before start and the IdP of the
        # run must be the same IdP (same key, same cert).
        self.samlconf_home = work_dir / "samlconf-home"

    def env(self, m: Manifest, run_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "LAB_NAME": m.name, "LAB_DIR": str(m.dir), "LAB_RUN_DIR": str(run_dir), "LAB_REPO": str(REPO),
            "LAB_PORT": str(m.port), "LAB_IDP_PORT": str(m.idp_port), "LAB_PYTHON": self.python,
            "LAB_IDP_METADATA": str(run_dir / "idp-metadata.xml"), "LAB_IDP_ENTITY_ID": "urn:samlconf:mock-idp",
            "LAB_IDP_SSO_URL": f"http://127.0.0.1:{m.idp_port}/sso",
            "SAMLCONF_HOME": str(self.samlconf_home),
        })
        env.update(m.env)
        return env

    def run_target(self, m: Manifest) -> TargetRun:
        tr = TargetRun(m)
        out_dir = self.report_dir / m.name
        out_dir.mkdir(parents=True, exist_ok=True)
        # 1. install (idempotent)
        if self.do_install and m.install:
            t0 = time.monotonic()
            ok, why = self._sh(m.install, m, self.env(m, self.run_dir(m)), out_dir / "install.log", m.install_timeout)
            tr.timings["install"] = round(time.monotonic() - t0, 1)
            if not ok:
                tr.status, tr.detail = "install-failed", why
                return tr
        # 2-4. the IdP's metadata, start, wait until ready, run the suite, stop
        t0 = time.monotonic()
        with self.started(m) as problem:
            tr.timings["start"] = round(time.monotonic() - t0, 1)
            if problem:
                tr.status, tr.detail = "start-failed", problem
                return tr
            t1 = time.monotonic()
            self._suite(m, self.env(m, self.run_dir(m)), out_dir, tr)
            tr.timings["suite"] = round(time.monotonic() - t1, 1)
        return tr

    def run_dir(self, m: Manifest) -> Path:
        d = self.work_dir / m.name
        d.mkdir(parents=True, exist_ok=True)
        return d

    @contextlib.contextmanager
    def started(self, m: Manifest, *, idp_metadata: bytes | None = None,
                idp_entity_id: str | None = None) -> Iterator[str | None]:
        """The target running (yields None) or why it could not start (yields the reason); stopped
        on exit. The IdP metadata is samlconf's mock IdP's unless given (the truth probe's own)."""
        env = self.env(m, self.run_dir(m))
        if idp_entity_id:
            env["LAB_IDP_ENTITY_ID"] = idp_entity_id
        out_dir = self.report_dir / m.name
        out_dir.mkdir(parents=True, exist_ok=True)
        if idp_metadata is not None:
            Path(env["LAB_IDP_METADATA"]).write_bytes(idp_metadata)
        elif m.idp_metadata:
            cmd = [self.python, "-m", "harness.cli", "idp", "metadata", "--port", str(m.idp_port),
                   "--out", env["LAB_IDP_METADATA"]]
            r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                yield f"idp metadata: {r.stderr.strip()}"
                return
        with open(out_dir / "target.log", "wb") as log:
            proc = subprocess.Popen(["bash", "-c", m.start], cwd=m.dir, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                ready, why = self._wait_ready(m, proc)
                yield None if ready else f"{why}; target.log: {_tail(out_dir / 'target.log')}"
            finally:
                self._stop(proc)

    def _sh(self, command: str, m: Manifest, env: dict[str, str], logfile: Path, timeout: float) -> tuple[bool, str]:
        with open(logfile, "wb") as log:
            proc = subprocess.Popen(["bash", "-c", command], cwd=m.dir, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._stop(proc)
                return False, f"{command!r} timed out after {timeout:.0f}s"
        if rc != 0:
            return False, f"{command!r} exited {rc}: {_tail(logfile)}"
        return True, ""

    def _wait_ready(self, m: Manifest, proc: subprocess.Popen[bytes]) -> tuple[bool, str]:
        deadline = time.monotonic() + m.ready_timeout
        last = "no answer"
        # readiness only: a private-CA target is verified by samlconf itself (its ca_file)
        with httpx.Client(timeout=5.0, verify=False) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return False, f"start command exited {proc.returncode} before {m.ready_url} answered"
                try:
                    r = client.get(m.ready_url)
                    if r.status_code < 500:
                        return True, ""
                    last = f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.3)
        return False, f"{m.ready_url} not ready after {m.ready_timeout:.0f}s ({last})"

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        """Stop what the lab started: the start command's own process group (its pgid is its pid)."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:  # children that outlived their parent (daemons it spawned) are in the same group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait(timeout=5)

    def _suite(self, m: Manifest, env: dict[str, str], out_dir: Path, tr: TargetRun) -> None:
        results_file = out_dir / "samlconf-results.json"
        results_file.unlink(missing_ok=True)
        cmd = [self.python, "-m", "harness.cli", "run", "--target", str(m.dir / m.target),
               "--report-dir", str(out_dir), "--driver", "http", "--seed", "1"]
        if m.profile:
            cmd += ["--profile", m.profile]
        for sid in m.scenarios:
            cmd += ["--scenario", sid]
        with open(out_dir / "samlconf.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                rc = proc.wait(timeout=m.suite_timeout)
            except subprocess.TimeoutExpired:
                self._stop(proc)
                tr.status, tr.detail = "suite-failed", f"samlconf run timed out after {m.suite_timeout:.0f}s"
                return
        if rc not in (0, 1) or not results_file.exists():
            tr.status = "suite-failed"
            tr.detail = f"samlconf run exited {rc}: {_tail(out_dir / 'samlconf.log', 3)}"
            return
        data = json.loads(results_file.read_text(encoding="utf-8"))
        tr.results = data.get("scenarios", [])
        tr.summary = data.get("summary", {})


# --- comparing ------------------------------------------------------------------------------
@dataclass
class Deviation:
    target: str
    scenario: str
    seen: str
    expected: str
    detail: str = ""

    def line(self) -> str:
        text = f"{self.scenario} on {self.target}: seen {self.seen}, expected {self.expected}"
        return text + (f" ({self.detail})" if self.detail else "")


def compare(run: TargetRun, expected: dict[str, Expectation] | None) -> list[Deviation]:
    """Every verdict of the run against the target's expected rows (and every row against the run)."""
    name = run.manifest.name
    if run.status != "ok":
        return [Deviation(name, "*", run.status, "a run", run.detail)]
    rows = expected or {}
    out: list[Deviation] = []
    seen_ids: set[str] = set()
    for r in run.results:
        sid, verdict = r["id"], r["verdict"]
        seen_ids.add(sid)
        exp = rows.get(sid)
        if exp is None:
            out.append(Deviation(name, sid, verdict, "no row in lab/expected.toml", r.get("evidence", "")))
        elif exp.verdict != verdict:
            out.append(Deviation(name, sid, verdict, exp.verdict, r.get("evidence", "")))
        elif exp.why.startswith(UNREVIEWED):
            out.append(Deviation(name, sid, verdict, exp.verdict, "its expected.toml row is not reviewed yet"))
    selected = set(run.manifest.scenarios)
    for sid, exp in rows.items():
        if sid not in seen_ids and (not selected or sid in selected):
            out.append(Deviation(name, sid, "not run", exp.verdict, "scenario missing from the run"))
    return out


def updated_expected(runs: list[TargetRun], old: dict[str, dict[str, Expectation]]) -> dict[str, dict[str, Expectation]]:
    """The expected matrix from this run: unchanged verdicts keep their why; changed or new rows get
    an UNREVIEWED why quoting the evidence, for a maintainer to replace."""
    new = {t: dict(rows) for t, rows in old.items()}
    for run in runs:
        if run.status != "ok":
            continue
        name = run.manifest.name
        prev = old.get(name, {})
        rows: dict[str, Expectation] = {}
        for r in run.results:
            sid, verdict = r["id"], r["verdict"]
            e = prev.get(sid)
            if e is not None and e.verdict == verdict:
                rows[sid] = e
            else:
                was = f" (was {e.verdict})" if e is not None else ""
                ev = " ".join(str(r.get("evidence", "")).split())[:200]
                rows[sid] = Expectation(verdict, f"{UNREVIEWED}{was}: {ev}")
        if run.manifest.scenarios:  # a subset run rewrites only the rows it ran
            rows = {**prev, **rows}
        new[name] = rows
    return new


# --- the matrix report ----------------------------------------------------------------------
def matrix(runs: list[TargetRun], expected: dict[str, dict[str, Expectation]],
           deviations: list[Deviation]) -> dict[str, Any]:
    dev_keys = {(d.target, d.scenario) for d in deviations}
    scen: dict[str, dict[str, Any]] = {}
    for run in runs:
        name = run.manifest.name
        for r in run.results:
            row = scen.setdefault(r["id"], {"id": r["id"], "title": r.get("title", ""),
                                            "category": r.get("category", ""), "cells": {}})
            exp = expected.get(name, {}).get(r["id"])
            row["cells"][name] = {
                "verdict": r["verdict"], "expected": exp.verdict if exp else None,
                "why": exp.why if exp else None, "evidence": r.get("evidence", ""),
                "deviation": (name, r["id"]) in dev_keys,
            }
    return {
        "schema_version": 1,
        "tool": "samlconf-lab",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "targets": [{
            "name": r.manifest.name, "product": r.manifest.product, "version": r.manifest.version,
            "language": r.manifest.language, "kind": r.manifest.kind,
            "profile": r.manifest.profile or _target_profile(r.manifest),
            "status": r.status, "detail": r.detail, "timings": r.timings, "summary": r.summary,
        } for r in runs],
        "scenarios": [scen[k] for k in sorted(scen)],
        "deviations": [d.__dict__ for d in deviations],
    }


def _target_profile(m: Manifest) -> str:
    try:
        return str(tomllib.loads((m.dir / m.target).read_text(encoding="utf-8")).get("profile", "generic"))
    except (OSError, tomllib.TOMLDecodeError):
        return "?"


COLORS = {"pass": "#cfe8cf", "fail": "#f4b6b6", "warn": "#f8deb0", "info": "#d6e4f5",
          "not-tested": "#e6e6e6", "inconclusive": "#e9d8f0", "error": "#f08a8a"}


def matrix_html(m: dict[str, Any]) -> str:
    e = html.escape
    targets = m["targets"]
    head = "".join(
        f"<th>{e(t['name'])}<br><small>{e(t['product'])} {e(t['version'])}<br>{e(t['language'])}, "
        f"profile {e(t['profile'])}<br>{e(t['status'])}"
        + (f": {e(t['detail'][:200])}" if t["detail"] else "")
        + "<br>" + e(", ".join(f"{k} {v}s" for k, v in t["timings"].items())) + "</small></th>"
        for t in targets)
    rows = []
    for s in m["scenarios"]:
        cells = []
        for t in targets:
            c = s["cells"].get(t["name"])
            if c is None:
                cells.append("<td></td>")
                continue
            mark = f" <b>(expected {e(str(c['expected']))})</b>" if c["deviation"] else ""
            tip = f"seen: {c['evidence']}\nexpected: {c['expected']} - {c['why']}"
            cells.append(f"<td style=\"background:{COLORS.get(c['verdict'], '#fff')}\" title=\"{e(tip)}\">"
                         f"{e(c['verdict'])}{mark}</td>")
        rows.append(f"<tr><th class=s>{e(s['id'])}</th><td class=t>{e(s['title'])}</td>{''.join(cells)}</tr>")
    devs = "".join(f"<li>{e(Deviation(**d).line())}</li>" for d in m["deviations"]) or "<li>none</li>"
    counts = {t["name"]: t["summary"] for t in targets}
    summary = "".join(f"<li>{e(n)}: {e(', '.join(f'{v} {k}' for k, v in sorted(c.items())))}</li>"
                      for n, c in counts.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>samlconf lab matrix</title>
<style>body{{font:13px sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:2px 5px;vertical-align:top}} th.s{{text-align:left;white-space:nowrap}}
td.t{{max-width:28em}} thead th{{position:sticky;top:0;background:#f7f7f7}}</style></head><body>
<h1>samlconf interop lab</h1><p>Generated {e(m['generated_at'])}. Hover a cell for the evidence and the
expected row's reason. Deviations from lab/expected.toml are marked <b>(expected ...)</b>.</p>
<h2>Deviations</h2><ul>{devs}</ul><h2>Verdicts per target</h2><ul>{summary}</ul>
<table><thead><tr><th>scenario</th><th>title</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>
</body></html>
"""


def write_matrix(report_dir: Path, m: dict[str, Any]) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "lab-matrix.json").write_text(json.dumps(m, indent=2, ensure_ascii=False), encoding="utf-8")
    (report_dir / "lab-matrix.html").write_text(matrix_html(m), encoding="utf-8")


# --- CLI ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lab", description=__doc__.splitlines()[0])
    p.add_argument("--target", action="append", metavar="NAME", help="run only this target (repeatable)")
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument("--no-install", action="store_true", help="skip the install commands")
    p.add_argument("--update-expected", action="store_true",
                   help="rewrite lab/expected.toml from this run (for a maintainer to review; never in CI)")
    p.add_argument("--scenario", action="append", metavar="ID",
                   help="run and compare only this scenario on each target (repeatable; a subset run)")
    p.add_argument("--report-dir", type=Path, default=REPO / "lab-report")
    p.add_argument("--work-dir", type=Path, default=REPO / "build" / "lab")
    args = p.parse_args(argv)
    try:
        manifests = discover()
        expected = load_expected()
        if args.target:
            known = {m.name for m in manifests}
            for t in args.target:
                if t not in known:
                    raise LabError(f"--target {t}: no such lab target (known: {', '.join(sorted(known))})")
            manifests = [m for m in manifests if m.name in args.target]
        if args.scenario:
            for m in manifests:
                m.scenarios = [s for s in args.scenario if not m.scenarios or s in m.scenarios]
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for m in manifests:
            print(f"{m.name:<24} {m.product} {m.version} ({m.language}, {m.kind}) "
                  f"port {m.port}, idp {m.idp_port}  {_rel(m.dir)}")
        return 0
    lab = Lab(args.report_dir.resolve(), args.work_dir.resolve(), sys.executable, install=not args.no_install)
    runs: list[TargetRun] = []
    deviations: list[Deviation] = []
    t_all = time.monotonic()
    for m in manifests:
        _log(f"{m.name}: {m.product} {m.version}")
        t0 = time.monotonic()
        try:
            run = lab.run_target(m)
        except KeyboardInterrupt:
            _log("interrupted")
            return 130
        runs.append(run)
        run.timings["total"] = round(time.monotonic() - t0, 1)
        devs = compare(run, expected.get(m.name))
        deviations += devs
        counts = ", ".join(f"{v} {k}" for k, v in sorted(run.summary.items()))
        _log(f"{m.name}: {run.status} in {run.timings['total']}s ({counts or run.detail}); "
             f"{len(devs)} deviation(s)")
    if args.target is None and not args.scenario:  # rows for targets that no longer exist are stale
        known = {m.name for m in manifests}
        for name in sorted(set(expected) - known):
            deviations.append(Deviation(name, "*", "no such lab target", "a run",
                                        "lab/expected.toml has rows for it"))
    write_matrix(lab.report_dir, matrix(runs, expected, deviations))
    if args.update_expected:
        new = updated_expected(runs, expected)
        if args.target is None:
            new = {t: rows for t, rows in new.items() if t in {m.name for m in manifests}}
        write_expected(EXPECTED_FILE, new, EXPECTED_HEADER)
        _log(f"wrote {_rel(EXPECTED_FILE)}: review every row whose why starts with {UNREVIEWED}")
    _log(f"{len(runs)} target(s) in {time.monotonic() - t_all:.0f}s; matrix: "
         f"{_rel(lab.report_dir / 'lab-matrix.html')}, {_rel(lab.report_dir / 'lab-matrix.json')}")
    for d in deviations:
        print(f"DEVIATION {d.line()}")
    total = sum(len(r.results) for r in runs)
    bad = {(d.target, d.scenario) for d in deviations}
    ok = sum(1 for r in runs for x in r.results if (r.manifest.name, x["id"]) not in bad)
    print(f"lab: {len(runs)} target(s), {total} verdict(s); {len(deviations)} deviation(s) from lab/expected.toml")
    print(f"lab: {ok} passed, {len(deviations)} failed")
    return 1 if deviations else 0


if __name__ == "__main__":
    sys.exit(main())
