"""The SP's declared policies set expectations (issue 8, items 2 and 8).

SIG-03 / POS-03 / POS-04 against the reference SP, for every combination of what its metadata says
(WantAssertionsSigned "true", "false", absent) and what it does with a signed Response around an
unsigned Assertion (refuses: the correct SP; accepts: the `accepts_response_signature` mutant), plus
the target file's `[sp.policy]` overriding the metadata. And the unsolicited-Response capability:
one answer (profile `[flows]`, target `capabilities_off`) for every IdP-initiated scenario.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.registry import ACCEPT, REJECT, get
from harness.runtime import Runtime
from harness.sp_metadata import read_policy
from harness.suite import resolve_target
from harness.target import load_target
from tests.conftest import run_target

IDS = ("SIG-03", "POS-03", "POS-04")


def run(was: str, mutants: tuple[str, ...] = (), policy: dict | None = None, ids=IDS) -> dict[str, str]:
    target = resolve_target(None, "generic")
    embedded = target.embedded.model_copy(update={"want_assertions_signed": was})
    sp = target.sp.model_copy(update={"policy": target.sp.policy.model_copy(update=policy or {})})
    target = target.model_copy(update={"embedded": embedded, "sp": sp})
    results, _ = run_target(target, ids, mutants=mutants, seed=77)
    return {r.id: r.verdict for r in results}


# (metadata WantAssertionsSigned, SP accepts a response-only signature?) -> SIG-03, POS-03, POS-04
MATRIX = {
    ("true", False): ("pass", "pass", "pass"),           # promise kept
    ("true", True): ("fail", "pass", "fail"),            # promise broken
    ("false", False): ("not-tested", "pass", "info"),    # a policy refusal the metadata does not declare
    ("false", True): ("not-tested", "pass", "pass"),
    ("absent", False): ("not-tested", "pass", "info"),
    ("absent", True): ("not-tested", "pass", "pass"),
}


@pytest.mark.parametrize(("was", "accepts"), list(MATRIX), ids=[f"WAS={w}-{'accepts' if a else 'refuses'}"
                                                                for w, a in MATRIX])
def test_signature_placement_follows_the_metadata(was, accepts):
    got = run(was, ("accepts_response_signature",) if accepts else ())
    assert tuple(got[i] for i in IDS) == MATRIX[(was, accepts)], got


def test_target_file_overrides_the_metadata():
    # the metadata says nothing, the target file declares WantAssertionsSigned: accepting breaks it
    got = run("absent", ("accepts_response_signature",), {"want_assertions_signed": True}, ("SIG-03", "POS-04"))
    assert got == {"SIG-03": "fail", "POS-04": "fail"}
    # the metadata says "true", the target file says false: refusing is then a policy (info)
    got = run("true", (), {"want_assertions_signed": False}, ("SIG-03", "POS-04"))
    assert got == {"SIG-03": "not-tested", "POS-04": "info"}


@pytest.mark.parametrize(("declared", "mutants", "verdict"), [
    (None, ("requires_signed_response",), "fail"),   # undeclared: refusing a valid assertion-only signature
    (True, ("requires_signed_response",), "info"),   # declared policy: a refusal is info
    (True, (), "pass"),                              # declared, but it accepts: nothing wrong
])
def test_pos03_signed_response_policy(declared, mutants, verdict):
    policy = {} if declared is None else {"require_signed_response": declared}
    assert run("true", mutants, policy, ("POS-03",)) == {"POS-03": verdict}


def test_read_policy_from_metadata_and_target(tmp_path: Path):
    from mock_idp.testing import sp_metadata

    md = sp_metadata("https://sp.example.test/md", ["http://127.0.0.1:9/acs"], want_assertions_signed=True,
                     slo_url="http://127.0.0.1:9/slo", encryption_cert=None)
    pol = read_policy(md)
    assert pol.want_assertions_signed is True and "metadata" in pol.want_assertions_signed_from
    assert pol.acs[0].location == "http://127.0.0.1:9/acs" and pol.slo[0].location == "http://127.0.0.1:9/slo"
    assert not pol.encryption_certs and pol.require_signed_response is None
    absent = md.replace(b' WantAssertionsSigned="true"', b"")
    assert read_policy(absent).want_assertions_signed is None
    (tmp_path / "t.toml").write_text(
        'sp.metadata_file = "sp.xml"\nsp.policy.want_assertions_signed = false\n'
        'sp.policy.require_signed_response = true\nwhoami.url = "http://127.0.0.1:9/me"\n')
    (tmp_path / "sp.xml").write_bytes(md)
    target = load_target(tmp_path / "t.toml")
    pol = read_policy(md, target)
    assert pol.want_assertions_signed is False and pol.requires_signed_response
    assert pol.notes and "overrides" in pol.notes[0]
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="SP metadata"):
        read_policy(b"<not-metadata/>")


# --- item 8: one answer for every scenario that sends an unsolicited Response -----------------------
def _facts(tmp_path: Path, profile_flows: str, off: list[str]) -> Runtime:
    (tmp_path / "mine.toml").write_text(f'name = "mine"\ntitle = "custom"\n[flows]\n{profile_flows}\n')
    (tmp_path / "t.toml").write_text(
        f'profile = "mine.toml"\ncapabilities_off = {off!r}\nsp.metadata_url = "http://127.0.0.1:9/md"\n'
        '[login]\nsp_initiated_url = "http://127.0.0.1:9/login"\n[whoami]\nurl = "http://127.0.0.1:9/me"\n')
    rt = Runtime(load_target(tmp_path / "t.toml"))
    rt.profile = rt.profile.model_copy(update={"name": "mine"})
    return rt


@pytest.mark.parametrize(("flows", "off", "accepts"), [
    ("idp_initiated = true", [], True),
    ("idp_initiated = false", [], False),          # a custom profile's [flows]
    ("idp_initiated = true", ["idp_initiated"], False),  # or the target file's capabilities_off
])
def test_unsolicited_capability_and_expectations_agree(tmp_path, flows, off, accepts):
    rt = _facts(tmp_path, flows, off)
    try:
        caps = rt.capabilities()
        assert rt.accepts_unsolicited is accepts
        assert (caps["idp_initiated"] is None) is accepts
        expected = ACCEPT if accepts else REJECT
        assert get("IRT-05").expected_for(rt) is expected
        assert get("FLOW-02").expected_for(rt) is expected
        # a scenario that needs the SP to take unsolicited Responses is not tested, never expected to pass
        assert "idp_initiated" in get("RPL-05").needs
        assert (caps["relay_state"] is None) is accepts  # the login URL has no {relay_state}
    finally:
        rt.stop()


# --- item 4: SES-01 judges a pre-login session id, not the tester's own earlier session -------------
@pytest.mark.parametrize(("keep", "mutants", "verdict"), [
    (False, (), "pass"),                     # rotates and ends the earlier session
    (True, (), "pass"),                      # rotates, the attacker's own earlier session stays theirs
    (False, ("session_fixation",), "fail"),  # the pre-login id carries the victim
])
def test_ses01_fails_only_on_a_kept_pre_login_session_id(monkeypatch, keep, mutants, verdict):
    import functools

    import reference_sp.app as refapp

    monkeypatch.setattr(refapp, "SPConfig", functools.partial(refapp.SPConfig, keep_sessions_at_login=keep))
    target = resolve_target(None, "generic")
    (r,), _ = run_target(target, ["SES-01"], mutants=mutants, seed=78)
    assert r.verdict == verdict, r.reason
    if keep:
        assert "their own session, not the victim's" in r.reason


def test_declared_refusal_of_unsolicited_responses_is_checked_not_assumed():
    """The generic reference SP accepts unsolicited Responses; a target file that says it does not
    (capabilities_off) gets IRT-05 and FLOW-02 expected refused -- and failed, since it accepts --
    while RPL-05 (needs an SP that takes them) is not tested."""
    target = resolve_target(None, "generic").model_copy(update={"capabilities_off": ["idp_initiated"]})
    results, _ = run_target(target, ["IRT-05", "FLOW-02", "RPL-05"], seed=79)
    got = {r.id: r for r in results}
    assert {k: (r.expected, r.verdict) for k, r in got.items()} == {
        "IRT-05": ("reject", "fail"), "FLOW-02": ("reject", "fail"), "RPL-05": ("reject", "not-tested")}


def test_reports_say_when_the_expectation_came_from_the_sp_policy(tmp_path: Path):
    """JSON, JUnit and HTML name the source of a verdict's expectation: the SP's declared policy (here
    `[sp.policy]` over metadata that says nothing) for SIG-03 and POS-04, the profile for FLOW-01."""
    import json
    from xml.etree import ElementTree as ET

    from harness.cli import main
    from harness.target import TARGET_DIR

    text = (TARGET_DIR / "reference_generic.toml").read_text(encoding="utf-8")
    text = text.replace("[embedded]\n", '[embedded]\nwant_assertions_signed = "absent"\n', 1)
    text = text.replace("[sp.policy]\n", "[sp.policy]\nwant_assertions_signed = true\n", 1) \
        if "[sp.policy]\n" in text else text + "\n[sp.policy]\nwant_assertions_signed = true\n"
    (tmp_path / "t.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    argv = ["run", "--target", str(tmp_path / "t.toml"), "--report-dir", str(out), "--seed", "3"]
    for sid in ("SIG-03", "POS-04", "FLOW-01"):
        argv += ["--scenario", sid]
    assert main(argv) == 0
    got = {s["id"]: s["expected_from"] for s in json.loads((out / "samlconf-results.json").read_text())["scenarios"]}
    override = "target file: [sp.policy] want_assertions_signed"
    assert override in got["SIG-03"] and override in got["POS-04"], got
    assert got["FLOW-01"] == "profile generic", got
    props = {c.get("name").split()[0]: [p.get("value") for p in c.iter("property") if p.get("name") == "expected_from"]
             for c in ET.parse(out / "samlconf-junit.xml").iter("testcase")}
    assert override in props["SIG-03"][0] and not props["FLOW-01"], props
    assert override in (out / "samlconf-report.html").read_text(encoding="utf-8")
