"""The fixture example of docs/writing-scenarios.md runs, as a user would run it, under every bundled
profile (each test passes, or is skipped saying which profile it needs)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-scenarios.md"


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["redis_cloud", "redflag", "generic"])
def test_docs_fixture_example_runs_under_every_bundled_profile(profile, tmp_path) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code, "docs/writing-scenarios.md has a python example"
    (tmp_path / "test_my_sp.py").write_text(code.group(1))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           "test_my_sp.py", "--samlconf-profile", profile],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    passed = int(re.search(r"(\d+) passed", out).group(1))
    assert passed >= 2, out[-2000:]
    for skip in re.findall(r"SKIPPED \[\d+\] [^\n]*", out):
        assert "has no role attribute" in skip, skip
