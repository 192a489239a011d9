"""Robust verdicts: a broken target gives `error` with one clear line, the run goes on, nothing passes.

The targets here are small real HTTP servers on loopback that misbehave in one way each.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from flask import Flask, Response, redirect
from werkzeug.serving import make_server

from harness.cli import main
from harness.engine import Engine
from harness.events import ScenarioFinished
from harness.registry import get
from harness.runtime import Runtime
from harness.serving import LoopbackServer
from harness.errors import TargetError
from harness.target import Target, load_target

FIXTURES = Path(__file__).parent / "fixtures" / "harness"


def bad_sp() -> Flask:
    app = Flask("bad_sp")

    @app.get("/saml/metadata")
    def metadata() -> Response:
        return Response((FIXTURES / "sp-metadata.xml").read_bytes(), mimetype="application/xml")

    @app.get("/login-500")
    def five_hundred() -> Response:
        return Response("Internal Server Error", status=500)

    @app.get("/login-garbage")
    def garbage() -> Response:
        return Response(b"\x00\xff<html><<<form", mimetype="text/html")

    @app.get("/whoami-garbage")
    def whoami_garbage() -> Response:
        return Response("<html>oops</html>", mimetype="text/html")

    @app.get("/login-offsite")
    def offsite():  # type: ignore[no-untyped-def]
        return redirect("https://sso.evil.example/steal", code=302)

    @app.get("/login-slow")
    def slow() -> Response:
        time.sleep(2.5)
        return Response("late")

    @app.get("/api/me")
    def me() -> Response:
        return Response('{"error": "not signed in"}', status=401, mimetype="application/json")

    return app


@pytest.fixture(scope="module")
def bad_server():
    server = LoopbackServer().start(bad_sp())
    yield server
    server.stop()


def target_file(tmp_path: Path, base: str, login: str, whoami: str = "/api/me", extra: str = "") -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(f"""
name = "bad-sp"
profile = "generic"
base_url = "{base}"
{extra}
[sp]
metadata_url = "/saml/metadata"
[login]
sp_initiated_url = "{login}"
[whoami]
url = "{whoami}"
[timeouts]
read = 1.0
""")
    return p


def run(tmp_path: Path, target: Path, *scenarios: str) -> tuple[int, dict]:
    args = ["run", "--target", str(target), "--report-dir", str(tmp_path / "r")]
    for s in scenarios:
        args += ["--scenario", s]
    rc = main(args)
    return rc, json.loads((tmp_path / "r" / "samlconf-results.json").read_text())


@pytest.mark.parametrize(
    ("login", "whoami", "needle"),
    [
        ("/login-500", "/api/me", "answered HTTP 500"),
        ("/login-offsite", "/api/me", "outside the target, to https://sso.evil.example/steal"),
        ("/login-slow", "/api/me", "no answer within the timeout"),
        ("/api/me", "/whoami-garbage", "not JSON"),
    ],
    ids=["http-500", "offsite-redirect", "slow", "garbage"],
)
def test_broken_target_is_error_and_the_run_goes_on(tmp_path, bad_server, capsys, login, whoami, needle):
    rc, doc = run(tmp_path, target_file(tmp_path, bad_server.base_url, login, whoami), "FLOW-01", "FLOW-02")
    assert rc == 1
    verdicts = {s["id"]: s for s in doc["scenarios"]}
    assert verdicts["FLOW-01"]["verdict"] == "error"
    assert needle in verdicts["FLOW-01"]["evidence"]
    assert len(verdicts["FLOW-01"]["evidence"].splitlines()) == 1
    assert "FLOW-02" in verdicts, "the run went on after the error"
    assert verdicts["FLOW-02"]["verdict"] != "pass"
    assert "Traceback" not in capsys.readouterr().err


def test_garbage_html_page_never_counts_as_pass(tmp_path, bad_server):
    # The SP answers the login with garbage and nobody is signed in: an ACCEPT scenario fails.
    rc, doc = run(tmp_path, target_file(tmp_path, bad_server.base_url, "/login-garbage"), "FLOW-01")
    assert rc == 1
    assert doc["scenarios"][0]["verdict"] in ("fail", "error")


def test_bad_tls_certificate_is_error(tmp_path):
    from mock_idp.keys import ephemeral

    kp = ephemeral("bad-tls-sp")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(kp.cert_pem)
    key.write_bytes(kp.key_pem)
    server = make_server("127.0.0.1", 0, bad_sp(), ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"https://127.0.0.1:{server.server_port}"
        rc, doc = run(tmp_path, target_file(tmp_path, base, "/login-500"), "FLOW-01")
    finally:
        server.shutdown()
    assert rc == 1
    (s,) = doc["scenarios"]
    assert s["verdict"] == "error" and "certificate" in s["evidence"].lower()


def test_missing_capability_is_not_tested_with_reason(tmp_path, bad_server):
    extra = 'capabilities_off = ["idp_initiated"]'
    # RPL-05 needs the SP to take unsolicited Responses (FLOW-02 then expects a refusal instead)
    rc, doc = run(tmp_path, target_file(tmp_path, bad_server.base_url, "/login-500", extra=extra), "RPL-05")
    (s,) = doc["scenarios"]
    assert s["verdict"] == "not-tested"
    assert "idp_initiated" in s["evidence"] and "capabilities_off" in s["evidence"]
    assert rc == 0


def test_ctrl_c_still_writes_the_partial_report(tmp_path, bad_server):
    from harness.suite import report_writers

    target = load_target(target_file(tmp_path, bad_server.base_url, "/login-500"))
    report_dir = tmp_path / "partial"

    def interrupt_after_first(event):
        if isinstance(event, ScenarioFinished):
            raise KeyboardInterrupt

    with Runtime(target) as rt:
        engine = Engine(rt, ["http"], [*report_writers(report_dir), interrupt_after_first])
        with pytest.raises(KeyboardInterrupt):
            engine.run([get("FLOW-01"), get("FLOW-02")])
    doc = json.loads((report_dir / "samlconf-results.json").read_text())
    assert doc["interrupted"] is True
    assert [s["id"] for s in doc["scenarios"]] == ["FLOW-01"]
    assert (report_dir / "samlconf-junit.xml").exists() and (report_dir / "samlconf-report.html").exists()


@pytest.mark.parametrize("login", ["/login-500", "/login-offsite"])
def test_an_error_result_keeps_its_hops(tmp_path, bad_server, login):
    rc, doc = run(tmp_path, target_file(tmp_path, bad_server.base_url, login), "FLOW-01")
    (s,) = doc["scenarios"]
    assert s["verdict"] == "error"
    assert any(h["url"].endswith(login) for h in s["hops"]), s["hops"]


def test_a_5xx_outside_a_saml_message_stays_an_error(tmp_path, bad_server):
    # /login-500 answers the login start URL, which carries no SAML message: the SP broke
    rc, doc = run(tmp_path, target_file(tmp_path, bad_server.base_url, "/login-500"), "FLOW-01")
    (s,) = doc["scenarios"]
    assert s["verdict"] == "error" and not s["findings"]


def test_sp_metadata_with_a_doctype_is_a_one_line_target_error(tmp_path):
    md = tmp_path / "sp.xml"
    md.write_text('<!DOCTYPE html><html><body>Unhandled exception</body></html>')
    t = Target.model_validate({"sp": {"metadata_file": str(md)}, "whoami": {"url": "http://127.0.0.1:9/me"}})
    with pytest.raises(TargetError, match=r"SP metadata .*sp.xml: .*DOCTYPE"):
        with Runtime(t):
            pass


def test_the_http_driver_resolves_a_location_as_a_browser_does():
    from urllib.parse import urlsplit

    from harness.drivers.http import browser_join
    from scenarios.relay import browser_reads_offsite

    base, allowed = "https://sp.example:9620/acs", {"https://sp.example:9620"}
    for location in ("/\\evil.example/", "/\t/evil.example/", "//evil.example/", " \\\\evil.example"):
        assert urlsplit(browser_join(base, location)).hostname == "evil.example", location
    for location in ("https://sp.example:9620//evil.example/", "https://sp.example:9620/\\evil.example/",
                     "/app?next=\\\\evil.example"):
        joined = browser_join(base, location)
        assert joined.startswith("https://sp.example:9620/") and not browser_reads_offsite(joined, allowed)

