"""Bad input gives one clear line and exit code 2 (config) or an `error` verdict (unreachable SP)."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.target import load_target

FIXTURES = Path(__file__).parent / "fixtures" / "harness"

GOOD = """
name = "t"
profile = "generic"
[sp]
metadata_file = "{meta}"
[login]
sp_initiated_url = "http://127.0.0.1:{port}/login?email={{email}}"
[whoami]
url = "http://127.0.0.1:{port}/api/me"
"""


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "target.toml"
    p.write_text(text)
    return p


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_missing_target_file_is_one_line_exit_2(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "run", "--target", str(tmp_path / "nope.toml"), "--report-dir", str(tmp_path / "r"))
    assert rc == 2
    assert err.strip().count("\n") == 0
    assert "nope.toml: target file not found" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "t"\n[whoami]\nurl = "x"\nbogus = 1\n[sp]\nmetadata_url="http://127.0.0.1:1/m"\n', "field 'whoami.bogus': unknown field"),
        ('name = "t"\n[sp]\nmetadata_url="http://127.0.0.1:1/m"\n', "field 'whoami': required field is missing"),
        ('name = "t"\n[whoami]\nurl = "x"\n', "field 'sp': set metadata_url or metadata_file"),
        ('name = \n', "not valid TOML"),
        ('profile = "nosuch"\n[whoami]\nurl = "http://127.0.0.1:1/me"\n[sp]\nmetadata_url="http://127.0.0.1:1/m"\n', "field 'profile'"),
        ('[whoami]\nurl = "http://127.0.0.1:1/me"\n[idp]\nport = 99999\n[sp]\nmetadata_url="http://127.0.0.1:1/m"\n', "field 'idp.port'"),
    ],
)
def test_wrong_field_is_one_line_naming_it(tmp_path, capsys, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_target(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)
    rc, _, stderr = run_cli(capsys, "run", "--target", str(path), "--report-dir", str(tmp_path / "r"))
    assert rc == 2
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_unknown_scenario_and_driver_are_usage_errors(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "run", "--scenario", "NOPE-99", "--report-dir", str(tmp_path))
    assert rc == 2 and "NOPE-99" in err


def test_unreachable_sp_metadata_gives_error_verdicts_and_reports(tmp_path, capsys):
    port = closed_port()
    path = write(tmp_path, GOOD.format(meta="", port=port).replace('metadata_file = ""',
                 f'metadata_url = "http://127.0.0.1:{port}/saml/metadata"'))
    rc, out, err = run_cli(capsys, "run", "--target", str(path), "--report-dir", str(tmp_path / "r"))
    assert rc == 1
    doc = json.loads((tmp_path / "r" / "samlconf-results.json").read_text())
    assert doc["scenarios"], "every scenario is reported"
    assert {s["verdict"] for s in doc["scenarios"]} == {"error"}
    assert all("cannot fetch" in s["evidence"] for s in doc["scenarios"])
    assert "Traceback" not in err + out


def test_unreachable_login_gives_error_verdict_not_pass(tmp_path, capsys):
    port = closed_port()
    path = write(tmp_path, GOOD.format(meta=FIXTURES / "sp-metadata.xml", port=port))
    rc, out, _ = run_cli(capsys, "run", "--target", str(path), "--scenario", "FLOW-01", "--report-dir", str(tmp_path / "r"))
    assert rc == 1
    doc = json.loads((tmp_path / "r" / "samlconf-results.json").read_text())
    (s,) = doc["scenarios"]
    assert s["verdict"] == "error"
    assert f"127.0.0.1:{port}" in s["evidence"] and "cannot connect" in s["evidence"]
