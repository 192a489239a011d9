"""samlconf benchmarks with their goals. Every loop is bounded in count and in time.

- idp_sign: build + sign (Response and Assertion, RSA-SHA256) responses per second (goal >= 400/s
  on a 2-core machine; DESIGN measured ~1,650/s for one signature per response).
- idp_mint_ratio: minting a Response with one signature, as a share of raw RSA-2048 signing in the
  same process (goal >= 60 %).
- idp_memory: traced peak while issuing 2,000 responses (goal <= 64 MiB).
- flow_http: FLOW-01 over the http driver against the embedded reference SP, per scenario
  (goal <= 250 ms; the SP's pysaml2 verification through xmlsec1 costs ~45 ms of it).
- hop_split: where a scenario's time goes (SP, IdP, harness overhead per hop; goal <= 5 ms).
- browser_vs_http: FLOW-01 and AUD-01 (its own positive control) in Chromium vs over http, interleaved,
  best round each (goal: browser <= 2x http); skipped without Chromium.
- fastest_sp_vs_post_loop: per negative scenario against the fastest SP we have without the lab
  (tests/xmlsec_sp.py, strict) vs one pre-minted POST per case plus one whoami GET, same cases
  (goal: ratio <= 1.0).
- suite_workers: the whole http suite against the reference SP (redis_cloud) with 1 and 2 workers,
  wall time and ratio (goal: 2 workers >= 1.6x faster). `--quick` skips it.
- sp_verify: the reference SP's signature check, in-process (python-xmlsec, the default) vs one
  `xmlsec1` process per signature (SAMLCONF_SP_XMLSEC1=1), per signature and per FLOW-01 scenario,
  measured interleaved in one run (goal: in-process at least 5x faster per signature).
Prints one JSON line per benchmark, writes them all with the machine's facts to
bench-results.json (or --out FILE), and exits 1 if a goal is missed.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Callable


def bounded(fn: Callable[[], object], *, max_count: int, max_seconds: float) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    while n < max_count and time.perf_counter() - start < max_seconds:
        fn()
        n += 1
    return n, time.perf_counter() - start


def bench_idp_sign() -> dict:
    from harness.serving import LoopbackServer
    from mock_idp.idp import MockIdP
    from mock_idp.users import generate_user

    server = LoopbackServer()
    idp = MockIdP(base_url=server.base_url)
    sp_meta = b"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:bench:sp">
      <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
      <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="http://127.0.0.1:9/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"""
    idp.register_sp(sp_meta)
    user = generate_user("redis_cloud", seed=1)
    idp.issue_response("urn:bench:sp", user)  # warm up
    n, secs = bounded(lambda: idp.issue_response("urn:bench:sp", user), max_count=3000, max_seconds=5)
    server.stop()
    rate = n / secs
    return {"bench": "idp_sign", "responses": n, "per_second": round(rate, 1), "goal": ">= 400/s", "ok": rate >= 400}


def bench_flow_http() -> dict:
    from harness.engine import Engine
    from harness.registry import get
    from harness.runtime import Runtime
    from harness.suite import resolve_target

    spec = get("FLOW-01")
    with Runtime(resolve_target(None, "redis_cloud")) as rt:
        engine = Engine(rt, ["http"])
        engine.run_one(spec)  # warm up
        n, secs = bounded(lambda: engine.run_one(spec), max_count=100, max_seconds=20)
    per = secs / n * 1000
    return {"bench": "flow_http", "scenarios": n, "ms_per_scenario": round(per, 1), "goal": "<= 250 ms", "ok": per <= 250}


def bench_idp_memory() -> dict:
    """Memory: issuing 2,000 responses must not grow the IdP without bound (bounded replay store)."""
    import tracemalloc

    from harness.serving import LoopbackServer
    from mock_idp.idp import MockIdP
    from mock_idp.users import generate_user

    server = LoopbackServer()
    idp = MockIdP(base_url=server.base_url)
    idp.register_sp(b"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:bench:sp">
      <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
      <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="http://127.0.0.1:9/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>""")
    user = generate_user("redis_cloud", seed=2)
    idp.issue_response("urn:bench:sp", user)
    tracemalloc.start()
    n, _ = bounded(lambda: idp.issue_response("urn:bench:sp", user), max_count=2000, max_seconds=20)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    server.stop()
    mb = peak / 2**20
    return {"bench": "idp_memory", "responses": n, "peak_mib": round(mb, 1), "goal": "<= 64 MiB", "ok": mb <= 64}


def _sp_meta() -> bytes:
    return b"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:bench:sp">
      <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
      <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="http://127.0.0.1:9/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"""


def bench_idp_mint_ratio() -> dict:
    """Minting (build + one RSA-SHA256 signature + serialise) against raw signing of the same size.

    Both are timed in CPU seconds of this process (time.process_time), in interleaved rounds, best
    round each: on a shared 2-core machine wall time mostly measures the neighbours' load. The
    wall-clock ratio of the same loops is reported alongside (`wall_ratio`)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from mock_idp.idp import MockIdP
    from mock_idp.users import generate_user

    idp = MockIdP(base_url="http://127.0.0.1:9")
    idp.register_sp(_sp_meta())
    user = generate_user("redis_cloud", seed=3)
    key = serialization.load_pem_private_key(idp.key.key_pem, password=None)
    data = b"x" * 1024

    def raw() -> object:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def mint() -> object:
        return idp.issue_response("urn:bench:sp", user, sign_response=False)

    mint()
    best = {"raw": float("inf"), "mint": float("inf")}
    wall = {"raw": 0.0, "mint": 0.0}
    count = {"raw": 0, "mint": 0}
    deadline = time.perf_counter() + 8
    for _ in range(6):  # rounds; each loop bounded in count and time
        for name, fn in (("raw", raw), ("mint", mint)):
            c0, w0 = time.process_time(), time.perf_counter()
            n, _ = bounded(fn, max_count=300, max_seconds=0.6)
            best[name] = min(best[name], (time.process_time() - c0) / n)
            wall[name] += time.perf_counter() - w0
            count[name] += n
        if time.perf_counter() > deadline:
            break
    ratio = best["raw"] / best["mint"]
    wall_ratio = (count["mint"] / wall["mint"]) / (count["raw"] / wall["raw"])
    return {"bench": "idp_mint_ratio", "raw_rsa_sign_per_cpu_s": round(1 / best["raw"], 1),
            "mint_per_cpu_s": round(1 / best["mint"], 1), "ratio": round(ratio, 3),
            "wall_ratio": round(wall_ratio, 3), "goal": ">= 0.60", "ok": ratio >= 0.60}


def bench_hop_split() -> dict:
    """One scenario's time: the SP's answers, the IdP's answers, and the rest (the harness: building
    requests, parsing pages, decoding SAML for the evidence, judging) per hop, controls included."""
    import time as _t

    from harness.drivers.http import origin
    from harness.engine import Engine
    from harness.events import HopEvent
    from harness.registry import get
    from harness.runtime import Runtime
    from harness.suite import resolve_target

    ids = ["FLOW-01", "AUD-01", "SIG-01", "XSW-03", "TIME-01"]
    hops: list = []
    with Runtime(resolve_target(None, "redis_cloud"), seed=5) as rt:
        engine = Engine(rt, ["http"], [lambda e: hops.append(e.hop) if isinstance(e, HopEvent) else None])
        engine.run_one(get("FLOW-01"))  # warm up
        hops.clear()
        idp = origin(rt.idp_base_url)
        t0 = _t.perf_counter()
        for sid in ids:
            engine.run_one(get(sid))
        total_ms = (_t.perf_counter() - t0) * 1000
        engine.close()
    idp_ms = sum(h.ms or 0 for h in hops if origin(h.url) == idp)
    sp_ms = sum(h.ms or 0 for h in hops if origin(h.url) != idp)
    overhead = max(0.0, total_ms - sp_ms - idp_ms) / max(1, len(hops))
    return {"bench": "hop_split", "scenarios": len(ids), "hops": len(hops), "sp_ms": round(sp_ms, 1),
            "idp_ms": round(idp_ms, 1), "total_ms": round(total_ms, 1),
            "harness_ms_per_hop": round(overhead, 2), "goal": "<= 5 ms per hop", "ok": overhead <= 5}


def bench_browser_vs_http(rounds: int = 4, max_seconds: float = 120) -> dict:
    """A positive (FLOW-01) and a negative scenario with its own positive control (AUD-01), in
    Chromium and over http against the same reference SP, interleaved round by round; the best
    round of each counts (a shared 2-core machine's neighbours make the rest noise)."""
    import os
    import shutil

    from harness.engine import Engine
    from harness.registry import get
    from harness.runtime import Runtime
    from harness.suite import resolve_target

    exe = os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")
    if not exe:
        return {"bench": "browser_vs_http", "skipped": "no Chromium", "ok": True}
    ids = ["FLOW-01", "AUD-01"]
    best: dict[tuple[str, str], float] = {}
    with Runtime(resolve_target(None, "redis_cloud"), seed=6) as rt:
        engines = {d: Engine(rt, [d], driver_options={"chromium": exe} if d == "browser" else {})
                   for d in ("http", "browser")}
        for d, engine in engines.items():  # warm up (Chromium starts once per worker)
            for sid in ids:
                engine.run_one(get(sid), d)
        deadline = time.perf_counter() + max_seconds
        for _ in range(max(1, rounds)):
            for d, engine in engines.items():
                for sid in ids:
                    t0 = time.perf_counter()
                    engine.run_one(get(sid), d)
                    best[(d, sid)] = min(best.get((d, sid), float("inf")), (time.perf_counter() - t0) * 1000)
            if time.perf_counter() > deadline:
                break
        for engine in engines.values():
            engine.close()
    http = sum(best[("http", sid)] for sid in ids) / len(ids)
    browser = sum(best[("browser", sid)] for sid in ids) / len(ids)
    ratio = browser / http
    return {"bench": "browser_vs_http", "scenarios": ids, "http_ms": round(http, 1), "browser_ms": round(browser, 1),
            "per_scenario": {f"{sid}[{d}]": round(v, 1) for (d, sid), v in sorted(best.items())},
            "ratio": round(ratio, 2), "goal": "<= 2.0", "ok": ratio <= 2.0}


def bench_suite_workers() -> dict:
    """The whole http suite against the reference SP (redis_cloud), serial and with 2 workers."""
    import subprocess
    import tempfile

    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--profile", "redis_cloud",
                                   "--report-dir", d, "--seed", "1", "--workers", str(workers)],
                                  capture_output=True, text=True, timeout=1800)
            times[workers] = time.perf_counter() - t0
            doc = json.loads((__import__("pathlib").Path(d) / "samlconf-results.json").read_text())
            n = len(doc["scenarios"])
        if proc.returncode not in (0, 1):
            return {"bench": "suite_workers", "error": proc.stderr[-500:], "ok": False}
    speedup = times[1] / times[2]
    return {"bench": "suite_workers", "scenarios": n, "serial_s": round(times[1], 1), "two_workers_s": round(times[2], 1),
            "serial_ms_per_scenario": round(times[1] / n * 1000, 1), "speedup": round(speedup, 2),
            "goal": ">= 1.6x", "ok": speedup >= 1.6}


# The negative scenarios for the fastest-SP comparison: the refusals tests/test_real_sp_verdicts.py
# proves on the python-xmlsec SP in strict mode (each refused with HTTP 500, judged by whoami).
FASTEST_SP_CASES = ["SIG-01", "SIG-02", "SIG-05", "SIG-06", "SIG-09", "KEY-02", "AUD-01", "TIME-01", "DST-01",
                    "IRT-01", "RPL-01", "XSW-03", "XSW-04", "XSW-05", "XSW-07", "XSW-08", "XSW-11"]


def bench_fastest_sp(rounds: int = 3, max_seconds: float = 90) -> dict:
    """Per negative scenario against the fastest SP available without the lab (tests/xmlsec_sp.py:
    Flask on python-xmlsec, strict mode), against what a one-POST-per-case tool spends on the same
    cases: one pre-minted Response POSTed to the ACS plus one whoami GET, fresh cookies per case.

    (a) samlconf: `Engine.run_batch` over the cases, as `samlconf run` schedules them (positive
    controls shared; each scenario an SP-initiated login: SP, IdP, ACS, landing page, whoami);
    (b) the loop: the faults of each scenario's refused login (by label, read from (a)'s evidence),
    minted beforehand by the same IdP, unsolicited, one HTTP client, cookies cleared per case. Both
    against the same SP process, interleaved, best round each.
    Goal (issue 12): (a) no slower than (b)."""
    import tempfile
    from pathlib import Path

    import httpx

    from harness.engine import Engine
    from harness.registry import get
    from harness.runtime import Runtime
    from harness.serving import LoopbackServer
    from harness.target import load_target
    from mock_idp.users import generate_user
    from tests.xmlsec_sp import TARGET_TOML, create_app

    server = LoopbackServer().start(create_app("strict"))
    specs = [get(sid) for sid in FASTEST_SP_CASES]
    try:
        with tempfile.TemporaryDirectory(prefix="samlconf-bench-") as d:
            toml = Path(d) / "xmlsec-sp.toml"
            toml.write_text(TARGET_TOML.format(mode="strict", base=server.base_url))
            with Runtime(load_target(toml), seed=7) as rt:
                engine = Engine(rt, ["http"])
                first = engine.run_batch(specs, ["http"])  # warm up; its evidence names the faults
                verdicts = {r.id: r.verdict for r in first}
                cases = []
                for r in first:  # the faults of the scenario's last login (the one refused)
                    cases.append(tuple(f["label"] for f in (r.sent[-1].get("faults", []) if r.sent else [])))
                sp_id = rt.sp_entity_id if hasattr(rt, "sp_entity_id") else None
                sp_id = sp_id or rt.idp.sps[0].entity_id
                acs = server.base_url.rstrip("/") + "/saml/acs"
                whoami = server.base_url.rstrip("/") + "/api/me"
                samlconf_s: list[float] = []
                loop_s: list[float] = []
                refused = 0
                deadline = time.perf_counter() + max_seconds
                for _ in range(max(1, rounds)):
                    t0 = time.perf_counter()
                    engine.run_batch(specs, ["http"])
                    samlconf_s.append((time.perf_counter() - t0) / len(specs))
                    minted = [rt.idp.issue_response(sp_id, generate_user("redis_cloud", seed=i), faults=list(f),
                                                    acs_url=acs) for i, f in enumerate(cases)]
                    t0 = time.perf_counter()
                    refused = 0
                    with httpx.Client(timeout=10) as c:  # one connection pool, as a tight loop would keep
                        for m in minted:
                            c.cookies.clear()  # fresh cookies, as a new case would have
                            c.post(acs, data={"SAMLResponse": m.saml_response_b64, "RelayState": ""})
                            refused += c.get(whoami).status_code == 401
                    loop_s.append((time.perf_counter() - t0) / len(minted))
                    if time.perf_counter() > deadline:
                        break
                engine.close()
    finally:
        server.stop()
    a, b = min(samlconf_s) * 1000, min(loop_s) * 1000
    ratio = a / b
    return {"bench": "fastest_sp_vs_post_loop", "sp": "tests/xmlsec_sp.py (strict)", "cases": len(specs),
            "rounds": len(samlconf_s), "samlconf_ms_per_scenario": round(a, 1), "post_loop_ms_per_case": round(b, 1),
            "ratio": round(ratio, 2), "loop_refused": refused, "faults": [list(c) for c in cases],
            "samlconf_verdicts": dict(sorted(__import__("collections").Counter(verdicts.values()).items())),
            "goal": "<= 1.0 (samlconf per scenario no slower than one POST per case + one whoami)",
            "ok": ratio <= 1.0}


def bench_sp_verify() -> dict:
    """The SP's verification split: one Assertion signature checked by the reference SP's pysaml2
    backend in-process vs through xmlsec1, and FLOW-01 per scenario with each (interleaved rounds,
    so machine load hits both alike)."""
    import os
    import tempfile
    from pathlib import Path

    from harness.engine import Engine
    from harness.registry import get
    from harness.runtime import Runtime
    from harness.suite import resolve_target
    from mock_idp.idp import MockIdP
    from mock_idp.users import generate_user
    from reference_sp.xmlsec_backend import backend_class

    idp = MockIdP(base_url="http://127.0.0.1:9")
    idp.register_sp(_sp_meta())
    issued = idp.issue_response("urn:bench:sp", generate_user("redis_cloud", seed=4), sign_response=False)
    node = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
    per_sig: dict[str, list[float]] = {"in_process": [], "xmlsec1": []}
    with tempfile.TemporaryDirectory() as d:
        cert = Path(d) / "idp.pem"
        cert.write_bytes(idp.key.cert_pem)
        backends = {"in_process": backend_class(subprocess=False, no_verify=False)("xmlsec1"),
                    "xmlsec1": backend_class(subprocess=True, no_verify=False)("xmlsec1")}
        for name, b in backends.items():  # warm up (xmlsec1 --version is asked once)
            assert b.validate_signature(issued.xml, str(cert), "pem", node, issued.assertion_id)
        t_end = time.perf_counter() + 8
        for _ in range(40):
            if time.perf_counter() > t_end:
                break
            for name, b in backends.items():
                t0 = time.perf_counter()
                b.validate_signature(issued.xml, str(cert), "pem", node, issued.assertion_id)
                per_sig[name].append((time.perf_counter() - t0) * 1000)
    flow: dict[str, list[float]] = {"in_process": [], "xmlsec1": []}
    spec = get("FLOW-01")
    old = os.environ.get("SAMLCONF_SP_XMLSEC1")
    try:
        runs = {}
        for name, flag in (("in_process", "0"), ("xmlsec1", "1")):
            os.environ["SAMLCONF_SP_XMLSEC1"] = flag  # read when the runtime builds the SP's config
            rt = Runtime(resolve_target(None, "redis_cloud"), seed=7).__enter__()
            engine = Engine(rt, ["http"])
            engine.run_one(spec)  # warm up
            runs[name] = (rt, engine)
        t_end = time.perf_counter() + 20
        for _ in range(20):
            if time.perf_counter() > t_end:
                break
            for name, (rt, engine) in runs.items():
                t0 = time.perf_counter()
                engine.run_one(spec)
                flow[name].append((time.perf_counter() - t0) * 1000)
        for rt, engine in runs.values():
            engine.close()
            rt.__exit__(None, None, None)
    finally:
        if old is None:
            os.environ.pop("SAMLCONF_SP_XMLSEC1", None)
        else:
            os.environ["SAMLCONF_SP_XMLSEC1"] = old

    def med(xs: list[float]) -> float:
        return round(sorted(xs)[len(xs) // 2], 2) if xs else float("nan")

    speedup = med(per_sig["xmlsec1"]) / med(per_sig["in_process"])
    return {"bench": "sp_verify", "rounds": len(per_sig["in_process"]),
            "in_process_ms_per_signature": med(per_sig["in_process"]),
            "xmlsec1_ms_per_signature": med(per_sig["xmlsec1"]),
            "flow_rounds": len(flow["in_process"]),
            "flow01_ms_in_process": med(flow["in_process"]), "flow01_ms_xmlsec1": med(flow["xmlsec1"]),
            "flow01_ratio": round(med(flow["xmlsec1"]) / med(flow["in_process"]), 2),
            "speedup_per_signature": round(speedup, 1), "goal": ">= 5x per signature", "ok": speedup >= 5}


def machine() -> dict:
    import os
    import platform

    model = None
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                      if line.startswith("model name")), None)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import resource
    from pathlib import Path

    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--quick", action="store_true", help="skip the whole-suite runs")
    p.add_argument("--out", default="bench-results.json")
    args = p.parse_args(argv)
    import logging

    for name in ("reference_sp", "saml2"):  # the SP's refusals are expected here, not news
        logging.getLogger(name).setLevel(logging.CRITICAL)
    ok = True
    facts = machine()
    results = []
    benches = [bench_idp_sign, bench_idp_mint_ratio, bench_idp_memory, bench_flow_http, bench_hop_split,
               bench_browser_vs_http, bench_fastest_sp]
    benches.append(bench_sp_verify)
    if not args.quick:
        benches.append(bench_suite_workers)
    for bench in benches:
        result = bench()
        ok &= bool(result["ok"])
        results.append(result)
        print(json.dumps(result), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.append({"bench": "peak_rss", "mib": round(peak, 1)})
    print(json.dumps(results[-1]))
    if hasattr(os, "getloadavg"):  # a loaded machine explains a missed goal; say how loaded it was
        facts["loadavg_at_end"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps({"machine": facts, "results": results}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
