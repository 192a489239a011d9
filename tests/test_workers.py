"""Workers against one target with a fixed IdP port (issue 12): `pytest -n 2` and `samlconf run
--workers 2` give the same verdicts as a serial run and one merged report. The target is the
reference SP run as a separate server, configured like a user's SP: it knows one IdP endpoint."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.cli import main

IDS = ["FLOW-01", "FLOW-04", "AUD-01", "SIG-01", "TIME-01", "XSW-03", "RPL-02", "DST-01"]
# one that needs shared SP state (the admin hooks) joins the serial group
SHARED = "RC-DEACTIVATE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def external_sp(tmp_path_factory):
    """`samlconf sp serve` on its own, trusting the IdP at a fixed port, with the `ignores_audience`
    defect: some verdicts fail, so agreement means something."""
    d = tmp_path_factory.mktemp("ext")
    idp_port, sp_port = free_port(), free_port()
    md = d / "idp.xml"
    assert main(["idp", "metadata", "--port", str(idp_port), "--out", str(md)]) == 0
    env = {**os.environ, "SAMLCONF_REFSP_TOKEN": "ext-token"}
    proc = subprocess.Popen([sys.executable, "-m", "reference_sp.cli", "sp", "serve", "--profile", "redis_cloud",
                             "--port", str(sp_port), "--idp-metadata", str(md), "--db", str(d / "sp.sqlite"),
                             "--mutant", "ignores_audience"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{sp_port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(url + "/saml/metadata", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise AssertionError("the SP did not start")
        target = d / "target.toml"
        target.write_text(f'''name = "external reference SP"
profile = "redis_cloud"
base_url = "{url}"

[sp]
metadata_url = "/saml/metadata"

[login]
sp_initiated_url = "/login?email={{email}}"

[whoami]
url = "/api/me"
json_path = "email"

[idp]
port = {idp_port}

[hooks.list_users]
url = "/admin/api/users"
headers = {{ Authorization = "Bearer ${{env:SAMLCONF_REFSP_TOKEN}}" }}
json_path = "users"
''')
        os.environ["SAMLCONF_REFSP_TOKEN"] = "ext-token"
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def verdicts(report_dir: Path) -> dict[str, str]:
    doc = json.loads((report_dir / "samlconf-results.json").read_text())
    assert sum(doc["summary"].values()) == len(doc["scenarios"])
    return {s["id"]: s["verdict"] for s in doc["scenarios"]}


def _select(ids):
    out = []
    for i in ids:
        out += ["--scenario", i]
    return out


@pytest.mark.slow
def test_workers_share_one_idp_port_and_agree_with_a_serial_run(external_sp, tmp_path, capsys) -> None:
    serial, parallel, xdist = tmp_path / "serial", tmp_path / "parallel", tmp_path / "xdist"
    base = ["run", "--target", str(external_sp), "--seed", "11"] + _select(IDS)
    assert main(base + ["--report-dir", str(serial)]) == 1  # AUD-01 fails: the SP ignores the audience
    assert main(base + ["--report-dir", str(parallel), "--workers", "2"]) == 1
    capsys.readouterr()
    want = verdicts(serial)
    assert want["AUD-01"] == "fail" and want["FLOW-01"] == "pass"
    assert verdicts(parallel) == want

    k = " or ".join("({} and {}[)".format(*i.split("-")) for i in IDS)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--pyargs", "scenarios",
         "--samlconf-target", str(external_sp), "--samlconf-report-dir", str(xdist), "--samlconf-seed", "12",
         "-k", k], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert "Address already in use" not in out and "SystemExit" not in out, out[-3000:]
    assert proc.returncode == 1, out[-3000:]  # AUD-01 fails, nothing else
    assert "1 failed" in out and f"{len(IDS) - 1} passed" in out, out[-2000:]
    assert verdicts(xdist) == want  # one merged report, same verdicts


def test_shared_state_scenarios_form_one_ordered_task() -> None:
    from harness.parallel import tasks_for
    from harness.registry import all_scenarios

    specs = all_scenarios()
    tasks = tasks_for(specs, ["http"])
    assert SHARED in tasks[0][0] and all(s.shared_state for s in specs if s.id in tasks[0][0])
    assert not any(SHARED in ids for ids, _ in tasks[1:]) and all(len(ids) <= 6 for ids, _ in tasks[1:-1])
    assert sorted(i for ids, _ in tasks for i in ids) == sorted(s.id for s in specs)
    # the scenarios that change the trusted IdPs come last, all together, to run alone
    assert tasks[-1][0] == [s.id for s in specs if s.exclusive] and {"KEY-07", "RC-CERT-UPDATE"} <= set(tasks[-1][0])
    assert not any(s.exclusive for ids, _ in tasks[:-1] for s in specs if s.id in ids)
