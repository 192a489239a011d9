"""The whoami oracle can read an HTML page (CSS selector and/or regex) instead of JSON."""
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
from harness.context import principal_from_page

PAGE_WHOAMI = '''
[whoami]
url = "/"
css_selector = "#whoami"
regex = "Signed in as (\\\\S+)"
'''


def page_target(tmp_path: Path, profile: str, whoami: str = PAGE_WHOAMI) -> Path:
    text = bundled_target(profile).read_text()
    head, _, rest = text.partition("[whoami]")
    _, _, tail = rest.partition("\n[")  # drop the JSON whoami table, keep what follows
    p = tmp_path / "page.toml"
    p.write_text(head + whoami + "\n[" + tail)
    return p


def test_principal_from_page():
    page = "<html><p id='whoami'>Signed in as ada@example.com</p></html>"
    assert principal_from_page(page, css="#whoami", regex=r"Signed in as (\S+)") == "ada@example.com"
    assert principal_from_page(page, css=None, regex=r"Signed in as (\S+)") == "ada@example.com"
    assert principal_from_page("<p id='whoami'>Not signed in</p>", css="#whoami", regex=r"Signed in as (\S+)") is None
    assert principal_from_page("<p>x</p>", css="#whoami", regex=None) is None


@pytest.mark.parametrize("driver", ["http", "browser"])
def test_flows_judged_from_the_page(tmp_path, driver):
    chromium = os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")
    if driver == "browser":
        pytest.importorskip("playwright.sync_api")
        if not chromium:
            pytest.skip("no Chromium")
    results = {}
    for profile, mutants in (("redflag", ()), ("redflag", ("accepts_idp_initiated",))):
        with Runtime(load_target(page_target(tmp_path, profile)), mutants=mutants) as rt:
            engine = Engine(rt, [driver], driver_options={"chromium": chromium, "artifacts_dir": tmp_path})
            for sid in ("FLOW-01", "FLOW-02"):
                results[(sid, mutants)] = engine.run_one(get(sid), driver).verdict
            engine.close()
    assert results[("FLOW-01", ())] == "pass"
    assert results[("FLOW-02", ())] == "pass"  # the unsolicited login was refused: nobody on the page
    assert results[("FLOW-02", ("accepts_idp_initiated",))] == "fail"


@pytest.mark.parametrize(("whoami", "needle"), [
    ('[whoami]\nurl = "/"\nregex = "(unclosed"\n', "regex is not a valid regular expression"),
    ('[whoami]\nurl = "/"\ncss_selector = "p[["\n', "css_selector is not a valid CSS selector"),
])
def test_bad_pattern_is_one_line_config_error(tmp_path, whoami, needle):
    with pytest.raises(ConfigError, match=needle):
        load_target(page_target(tmp_path, "redflag", whoami))
