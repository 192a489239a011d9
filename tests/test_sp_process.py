"""`samlconf run` starts the bundled reference SP as a process of its own (issue 12): the same
configuration it would have in-process (mutants included), its log kept, stopped by pid."""
from __future__ import annotations

import json
import os

import pytest

from harness.cli import main
from harness.engine import Engine
from harness.registry import get
from harness.runtime import Runtime
from harness.suite import resolve_target


def test_the_reference_sp_runs_as_its_own_process_and_stops(tmp_path) -> None:
    log = tmp_path / "target.log"
    with Runtime(resolve_target(None, "redflag"), seed=31, sp_process=True, sp_log=log) as rt:
        pid = rt._sp_proc.pid
        assert pid != os.getpid() and rt.embedded is not None and rt.embedded.server is None
        r = Engine(rt, ["http"]).run_one(get("FLOW-01"))
        assert r.verdict == "pass", r.reason
    assert "reference SP (redflag) on" in log.read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (and reaped)


def test_samlconf_run_passes_mutants_to_the_sp_process(tmp_path, capsys) -> None:
    assert main(["run", "--profile", "redis_cloud", "--report-dir", str(tmp_path), "--mutant", "ignores_audience",
                 "--scenario", "AUD-01", "--seed", "4"]) == 1
    doc = json.loads((tmp_path / "samlconf-results.json").read_text())
    assert doc["scenarios"][0]["verdict"] == "fail" and doc["mutants"] == ["ignores_audience"]
    assert "mutants: ignores_audience" in (tmp_path / "target.log").read_text()


def test_a_killed_samlconf_leaves_no_sp_process(tmp_path) -> None:
    import signal
    import subprocess
    import sys
    import time

    code = ("from harness.runtime import Runtime\nfrom harness.suite import resolve_target\n"
            "import sys, time\nrt = Runtime(resolve_target(None, 'redis_cloud'), sp_process=True)\nrt.start()\n"
            "print(rt._sp_proc.pid, flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        sp_pid = int(parent.stdout.readline())
        os.kill(sp_pid, 0)  # running
        parent.send_signal(signal.SIGKILL)  # no handler, no cleanup in samlconf
        parent.wait(timeout=10)
        for _ in range(100):
            try:
                os.kill(sp_pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(sp_pid, signal.SIGTERM)
        raise AssertionError("the reference SP outlived the killed samlconf")
    finally:
        if parent.poll() is None:
            parent.kill()
