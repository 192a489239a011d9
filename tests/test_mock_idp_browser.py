"""A person's path through the mock IdP's pages, in Chromium: pick a user, edit attributes, pick faults."""
from __future__ import annotations

import base64
import os
import shutil

import pytest
from lxml import etree

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser

from flask import Flask, request  # noqa: E402

from harness.serving import LoopbackServer  # noqa: E402
from mock_idp import MockIdP, ephemeral  # noqa: E402
from mock_idp.builder import NS  # noqa: E402
from mock_idp.testing import authn_request, sp_metadata  # noqa: E402

SP = "https://browser-sp.example.test/saml"


def chromium() -> str | None:
    return os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def setup():
    if not chromium():
        pytest.skip("no Chromium: set SAMLCONF_CHROMIUM or install Debian's chromium")
    from playwright.sync_api import sync_playwright

    received: list[dict[str, str]] = []
    sp_app = Flask("fake-sp")

    @sp_app.post("/acs")
    def acs():
        received.append(dict(request.form))
        return "<html><body><p id='ok'>received</p></body></html>"

    sp_server = LoopbackServer()
    sp_server.start(sp_app)
    idp_server = LoopbackServer()
    idp = MockIdP(base_url=idp_server.base_url, key=ephemeral("browser-idp"), profile="redflag")
    idp.register_sp(sp_metadata(SP, [f"{sp_server.base_url}/acs"]))
    idp_server.start(idp.app())
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
    try:
        yield idp, idp_server, sp_server, browser, received
    finally:
        browser.close()
        pw.stop()
        idp_server.stop()
        sp_server.stop()


def test_person_picks_user_edits_attributes_and_faults(setup, tmp_path) -> None:
    idp, idp_server, sp_server, browser, received = setup
    received.clear()
    rid, enc, _ = authn_request(SP)
    page = browser.new_page()
    from urllib.parse import urlencode

    page.goto(f"{idp_server.base_url}/sso?" + urlencode({"SAMLRequest": enc, "RelayState": "/after"}))
    page.locator("input[name=user][value='1']").check()
    assert page.input_value("#name_id") == idp.users[1].name_id  # the page filled in the chosen user
    text = page.input_value("#attributes")
    page.fill("#attributes", text.replace(f"role: {idp.users[1].attributes['role'][0]}", "role: Editor"))
    page.locator("details summary").click()
    page.locator("input[name=fault][value='audience-wrong']").check()
    page.screenshot(path=str(tmp_path / "login.png"), full_page=True)
    page.click("#submit")
    page.wait_for_selector("#ok")
    (form,) = received
    assert form["RelayState"] == "/after"
    root = etree.fromstring(base64.b64decode(form["SAMLResponse"]))
    assert root.get("InResponseTo") == rid
    assert root.findtext(".//saml:NameID", namespaces=NS) == idp.users[1].name_id
    assert root.findtext(".//saml:Attribute[@Name='role']/saml:AttributeValue", namespaces=NS) == "Editor"
    assert root.findtext(".//saml:Audience", namespaces=NS) == "https://other-sp.example.com/saml"
    page.close()


def test_idp_initiated_launch_page(setup) -> None:
    idp, idp_server, sp_server, browser, received = setup
    received.clear()
    page = browser.new_page()
    page.goto(f"{idp_server.base_url}/idp-initiated")
    page.click(f"text={SP}")
    page.click("#submit")
    page.wait_for_selector("#ok")
    (form,) = received
    root = etree.fromstring(base64.b64decode(form["SAMLResponse"]))
    assert root.get("InResponseTo") is None and root.findtext(".//saml:NameID", namespaces=NS) == idp.users[0].name_id
    page.close()
