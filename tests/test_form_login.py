"""SP-initiated login started from a login page's form (the redis_cloud email step), both drivers."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.engine import Engine
from harness.errors import ConfigError
from harness.registry import get
from harness.runtime import Runtime
from harness.target import bundled_target, load_target


def form_target(tmp_path: Path, login: str) -> Path:
    text = bundled_target("redis_cloud").read_text()
    head, _, rest = text.partition("[login]")
    _, _, tail = rest.partition("\n[")
    p = tmp_path / "form.toml"
    p.write_text(head + login + "\n[" + tail)
    return p


FORM = '[login]\nform_url = "/login"\nform_fields = { email = "{email}" }\n'


@pytest.mark.parametrize("driver", ["http", "browser"])
def test_login_through_the_email_form(tmp_path, driver):
    chromium = os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")
    if driver == "browser":
        pytest.importorskip("playwright.sync_api")
        if not chromium:
            pytest.skip("no Chromium")
    with Runtime(load_target(form_target(tmp_path, FORM))) as rt:
        engine = Engine(rt, [driver], driver_options={"chromium": chromium, "artifacts_dir": tmp_path})
        results = {sid: engine.run_one(get(sid), driver) for sid in ("FLOW-01", "SIG-01")}
        engine.close()
    assert results["FLOW-01"].verdict == "pass", results["FLOW-01"].reason
    assert any("/login?email=" in h.url for h in results["FLOW-01"].hops), "the form was submitted"
    assert results["SIG-01"].verdict == "pass"


def test_form_field_missing_on_the_page_is_an_error(tmp_path):
    login = '[login]\nform_url = "/login"\nform_fields = { username = "{email}" }\n'
    with Runtime(load_target(form_target(tmp_path, login))) as rt:
        r = Engine(rt).run_one(get("FLOW-01"))
    assert r.verdict == "error" and "username" in r.reason


def test_form_url_without_fields_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="form_url needs form_fields"):
        load_target(form_target(tmp_path, '[login]\nform_url = "/login"\n'))
