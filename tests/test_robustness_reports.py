"""Nothing the user had is lost (issue 13, item 3): SIGTERM is handled like Ctrl-C; the results log
is written as scenarios finish, so even a SIGKILLed run can be rebuilt; pytest-xdist workers' logs
merge into one report."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parents[1]


def _start_run(report_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--profile", "redis_cloud", "--report-dir", str(report_dir),
         "--seed", "7"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_results(log: Path, proc: subprocess.Popen, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count('"scenario-finished"') >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no {n} results in {log} within {timeout} s")


def test_sigterm_writes_the_partial_reports(tmp_path) -> None:
    report_dir = tmp_path / "r"
    proc = _start_run(report_dir)
    try:
        _wait_for_results(report_dir / "samlconf-results.jsonl", proc, 3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    doc = json.loads((report_dir / "samlconf-results.json").read_text())
    assert doc["interrupted"] is True and len(doc["scenarios"]) >= 3
    logged = (report_dir / "samlconf-results.jsonl").read_text().count('"scenario-finished"')
    assert logged == len(doc["scenarios"])
    assert (report_dir / "samlconf-report.html").exists() and (report_dir / "samlconf-junit.xml").exists()


def test_a_killed_run_is_rebuilt_from_its_results_log(tmp_path, capsys) -> None:
    report_dir = tmp_path / "r"
    proc = _start_run(report_dir)
    try:
        _wait_for_results(report_dir / "samlconf-results.jsonl", proc, 2)
        proc.kill()  # SIGKILL: no handler runs, only the log survives
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (report_dir / "samlconf-results.json").exists()
    with (report_dir / "samlconf-results.jsonl").open("a") as fh:
        fh.write('{"event": "scenario-fin')  # a line torn by the kill
    assert main(["report", "build", str(report_dir)]) == 0
    doc = json.loads((report_dir / "samlconf-results.json").read_text())
    assert doc["interrupted"] is True and len(doc["scenarios"]) >= 2
    assert doc["profile"] == "redis_cloud"
    assert all(s["verdict"] for s in doc["scenarios"])
    assert (report_dir / "samlconf-report.html").exists()


def test_report_build_without_a_log_is_one_line(tmp_path, capsys) -> None:
    assert main(["report", "build", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no results log" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_pytest_xdist_workers_give_one_merged_report(tmp_path) -> None:
    report_dir = tmp_path / "merged"
    ids = ["FLOW-01", "AUD-01", "SIG-01", "TIME-01"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--pyargs", "scenarios",
         "--samlconf-profile", "redis_cloud", "--samlconf-report-dir", str(report_dir),
         "-k", " or ".join("({} and {}[)".format(*i.split("-")) for i in ids)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((report_dir / "samlconf-results.json").read_text())
    assert sorted(s["id"] for s in doc["scenarios"]) == sorted(ids)
    assert sum(doc["summary"].values()) == len(ids)
    assert len(list(report_dir.glob("gw*/samlconf-results.jsonl"))) == 2
