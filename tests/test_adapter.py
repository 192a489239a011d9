"""`adapter = "pkg.module:Class"` in a target file: its methods are the hooks and give capabilities."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.engine import Engine
from harness.errors import ConfigError
from harness.registry import get
from harness.runtime import Runtime
from harness.target import bundled_target, load_target


def adapter_target(tmp_path: Path, adapter: str) -> Path:
    text = bundled_target("redflag").read_text()
    head, _, _ = text.partition("[hooks.")  # no HTTP hooks: the adapter provides list_users
    p = tmp_path / "t.toml"
    p.write_text(f'adapter = "{adapter}"\n' + head)
    return p


def test_adapter_provides_user_inspection(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    target = load_target(adapter_target(tmp_path, "adapter_example:ReferenceSPAdapter"))
    with Runtime(target) as rt:
        assert rt.capabilities()["user_inspection"] is None
        assert rt.capabilities()["saml_admin"] is not None, "no such method, no capability"
        result = Engine(rt).run_one(get("FLOW-01"))
    assert result.verdict == "pass" and "provisioned just in time" in result.reason


def test_bad_adapter_is_a_config_error(tmp_path):
    target = load_target(adapter_target(tmp_path, "no_such_module_xyz:Nope"))
    with pytest.raises(ConfigError, match="adapter 'no_such_module_xyz:Nope': cannot import"):
        with Runtime(target):
            pass


def test_configure_idp_hook_hands_the_target_this_runs_idp(tmp_path):
    text = bundled_target("redis_cloud").read_text() + '''
[hooks.configure_idp]
method = "POST"
url = "/admin/api/idps"
headers = { Authorization = "Bearer ${env:SAMLCONF_REFSP_TOKEN}" }
json = { id = "configured", metadata_xml = "{idp_metadata}" }

[hooks.state]
method = "GET"
url = "/admin/api/state"
headers = { Authorization = "Bearer ${env:SAMLCONF_REFSP_TOKEN}" }
json_path = "idps"
'''
    p = tmp_path / "t.toml"
    p.write_text(text)
    with Runtime(load_target(p)) as rt:
        idps = {i["id"]: i["entity_id"] for i in rt.call_hook("state")}
    assert idps.get("configured") == "urn:samlconf:mock-idp"
