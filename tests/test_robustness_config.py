"""Target-file mistakes are one-line exit-2 errors at load (issue 13, items 4 and 7)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.target import load_target

BASE = '[whoami]\nurl = "http://127.0.0.1:1/me"\n[sp]\nmetadata_url = "http://127.0.0.1:1/md"\n'


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "target.toml"
    p.write_text(text, encoding="utf-8")
    return p


def one_line_exit_2(capsys: pytest.CaptureFixture[str], path: Path, tmp_path: Path) -> str:
    rc = main(["run", "--target", str(path), "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("samlconf: error:")]
    assert len(errors) == 1 and "Traceback" not in err and "harness bug" not in err, err
    return errors[0]


@pytest.mark.parametrize(("text", "expected"), [
    ('base_url = "127.0.0.1:8000"\n' + BASE, "field 'base_url': '127.0.0.1:8000' is not an http(s) URL"),
    ('ca_file = "missing-ca.pem"\n' + BASE, "field 'ca_file':"),
    ('[login]\nsp_initiated_url = "http://127.0.0.1:1/login?u={user}"\n' + BASE,
     "field 'login.sp_initiated_url': unknown placeholder {user}"),
    ('logout_url = "/logout"\n' + BASE, "field 'logout_url': the relative URL '/logout' needs base_url"),
    ('[hooks.list_users]\nurl = "http://127.0.0.1:1/u"\nheaders = { X = "${env:SAMLCONF_TEST_UNSET_VAR}" }\n' + BASE,
     "field 'hooks.list_users.headers.X': environment variable SAMLCONF_TEST_UNSET_VAR is not set"),
    (BASE.replace('[sp]\n', '[sp]\nmetadata_file = "sp.xml"\n'), "field 'sp': set metadata_url or metadata_file, not both"),
    (BASE.replace('metadata_url = "http://127.0.0.1:1/md"', 'metadata_file = "nope.xml"'), "field 'sp.metadata_file':"),
])
def test_target_mistakes_are_caught_at_load(tmp_path, capsys, monkeypatch, text, expected) -> None:
    monkeypatch.delenv("SAMLCONF_TEST_UNSET_VAR", raising=False)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_target(path)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert expected in one_line_exit_2(capsys, path, tmp_path)


def test_fixed_idp_port_in_use_is_one_line_naming_port_and_file(tmp_path, capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        path = write(tmp_path, BASE + f"[idp]\nport = {port}\n")
        err = one_line_exit_2(capsys, path, tmp_path)
    assert f"127.0.0.1:{port}" in err and str(path) in err and "idp.port" in err
