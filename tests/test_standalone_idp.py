"""`samlconf idp serve` next to `samlconf sp serve`: a person signs in on the first click, and signs
out from the IdP's page (issue 13). Real servers on loopback, driven like a browser would."""
from __future__ import annotations

import argparse
import io
import secrets
from urllib.parse import urljoin

import httpx
import pytest
from lxml import html as lxml_html

from harness.serving import LoopbackServer
from mock_idp.cli import add_parser, cmd_serve
from reference_sp.app import SPConfig, create_app


def _serve_idp(profile: str, tmp_path) -> tuple[LoopbackServer, object]:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["idp", "serve", "--profile", profile, "--port", "0", "--key-dir", str(tmp_path / "k")])
    return cmd_serve(args, io.StringIO(), block=False)


def _form(page: str, base: str, form_id: str | None = None) -> tuple[str, dict[str, str]]:
    doc = lxml_html.document_fromstring(page)
    form = doc.get_element_by_id(form_id) if form_id else doc.find(".//form")
    fields = {}
    for el in form.iter("input", "textarea", "select"):
        name = el.get("name")
        if not name or (el.get("type") in ("radio", "checkbox") and el.get("checked") is None):
            continue
        if el.tag == "textarea":
            fields[name] = el.text or ""
        elif el.tag == "select":
            fields[name] = next((o.get("value", "") for o in el.iter("option") if o.get("selected") is not None), "")
        else:
            fields[name] = el.get("value", "")
    return urljoin(base, form.get("action") or base), fields


def _follow(client: httpx.Client, r: httpx.Response) -> httpx.Response:
    """Redirects and auto-POST SAML forms, as a browser does."""
    for _ in range(10):
        if r.is_redirect:
            r = client.get(urljoin(str(r.url), r.headers["location"]))
        elif "SAMLResponse" in r.text or "SAMLRequest" in r.text:
            action, fields = _form(r.text, str(r.url))
            r = client.post(action, data=fields)
        else:
            return r
    raise AssertionError("too many hops")


@pytest.mark.parametrize("profile", ["redis_cloud", "redflag"])
def test_a_person_signs_in_on_the_first_click_and_out_from_the_idp_page(profile, tmp_path) -> None:
    server, idp = _serve_idp(profile, tmp_path)
    sp_server = LoopbackServer()
    try:
        cfg = SPConfig(base_url=sp_server.base_url, idp_metadata=idp.metadata_xml(), profile=profile,
                       db_path=tmp_path / "sp.sqlite", admin_token=secrets.token_urlsafe(8), key_dir=tmp_path / "spk")
        sp_server.start(create_app(cfg))
        r = httpx.post(f"{server.base_url}/sps", data={"url": f"{sp_server.base_url}/saml/metadata"})
        assert r.status_code == 200, r.text[:300]
        first = idp.users[0]
        with httpx.Client(timeout=10) as browser:
            start = f"/login?email={first.name_id}" if profile == "redis_cloud" else "/login?saml=pocketstop1"
            page = _follow(browser, browser.get(sp_server.base_url + start))
            assert 'id="login"' in page.text, page.text[:300]  # the IdP's sign-in page
            action, fields = _form(page.text, str(page.url), "login")
            _follow(browser, browser.post(action, data=fields))  # the first click: "Sign in" as offered
            me = browser.get(sp_server.base_url + "/api/me")
            assert me.status_code == 200 and me.json()["email"] == first.name_id, me.text[:300]

            home = browser.get(server.base_url + "/")
            assert first.name_id in home.text and 'class="slo"' in home.text
            action, fields = _form(home.text[home.text.index('<form method="get" action="logout"'):],
                                   server.base_url + "/")
            _follow(browser, browser.get(action, params=fields))
            assert browser.get(sp_server.base_url + "/api/me").status_code != 200  # signed out
    finally:
        sp_server.stop()
        server.stop()
