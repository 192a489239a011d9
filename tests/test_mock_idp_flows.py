"""Mock IdP flows over HTTP: ACS selection, IsPassive, NameIDPolicy, IdP-initiated, users files, CLI."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import pytest
from lxml import etree

from harness.serving import LoopbackServer
from mock_idp import PLAN_COOKIE, MockIdP, ephemeral, generate_user, load_users
from mock_idp.builder import NS
from mock_idp.testing import authn_request, sp_metadata
from mock_idp.users import NAMEID_PERSISTENT, NAMEID_TRANSIENT, UserFileError

FIX = Path(__file__).parent / "fixtures" / "idp"
SP = "https://sp.example.test/saml"
OTHER_SP = "https://other.example.test/saml"


@pytest.fixture(scope="module")
def served():
    server = LoopbackServer()
    idp = MockIdP(base_url=server.base_url, key=ephemeral("flows-idp"), profile="redis_cloud")
    b = server.base_url
    idp.register_sp(sp_metadata(SP, [f"{b}/acs0", f"{b}/acs1"], default_index=1, want_assertions_signed=True))
    idp.register_sp(sp_metadata(OTHER_SP, [f"{b}/other-acs"]))
    server.start(idp.app())
    try:
        yield idp, server
    finally:
        server.stop()


def _post_form(html: str) -> tuple[str, dict[str, str]]:
    form = etree.HTML(html).find(".//form")
    fields = {i.get("name"): i.get("value") for i in form.iter("input") if i.get("name")}
    return form.get("action"), fields


def _sso(server, idp, user=None, cookie=True, **req):
    rid, enc, _ = authn_request(SP, **req)
    cookies = {PLAN_COOKIE: idp.plan_login(user or generate_user("redis_cloud", seed=1))} if cookie else {}
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc, "RelayState": "rs"}, cookies=cookies)
    assert r.status_code == 200, r.text
    action, fields = _post_form(r.text)
    return rid, action, etree.fromstring(base64.b64decode(fields["SAMLResponse"])), fields


def _codes(root):
    return [c.get("Value").rsplit(":", 1)[1] for c in root.iter("{*}StatusCode")]


def test_default_acs_is_the_isdefault_one(served) -> None:
    idp, server = served
    rid, action, root, _ = _sso(server, idp)
    assert action == f"{server.base_url}/acs1" and root.get("Destination") == action
    assert root.find(".//saml:SubjectConfirmationData", NS).get("Recipient") == action
    assert root.get("InResponseTo") == rid and _codes(root) == ["Success"]


def test_acs_by_url_and_by_index(served) -> None:
    idp, server = served
    _, action, _, _ = _sso(server, idp, acs_url=f"{server.base_url}/acs0")
    assert action == f"{server.base_url}/acs0"
    _, action, _, _ = _sso(server, idp, acs_index=0)
    assert action == f"{server.base_url}/acs0"


@pytest.mark.parametrize("req", [{"acs_url": "https://evil.example/acs"}, {"acs_index": 7}])
def test_unregistered_acs_gets_saml_error_at_registered_acs(served, req) -> None:
    idp, server = served
    rid, action, root, _ = _sso(server, idp, **req)
    assert action == f"{server.base_url}/acs1"  # never the unregistered URL
    assert _codes(root) == ["Requester", "RequestDenied"] and root.find("saml:Assertion", NS) is None
    assert root.get("InResponseTo") == rid


def test_is_passive_without_session_gets_no_passive(served) -> None:
    idp, server = served
    rid, action, root, _ = _sso(server, idp, cookie=False, is_passive=True)
    assert _codes(root) == ["Responder", "NoPassive"] and root.get("InResponseTo") == rid


def test_is_passive_with_planned_session_signs_in(served) -> None:
    idp, server = served
    _, _, root, _ = _sso(server, idp, is_passive=True)
    assert _codes(root) == ["Success"]


def test_name_id_policy_is_honoured(served) -> None:
    idp, server = served
    user = generate_user("redis_cloud", seed=9)
    _, _, r1, _ = _sso(server, idp, user=user, name_id_format=NAMEID_PERSISTENT)
    _, _, r2, _ = _sso(server, idp, user=user, name_id_format=NAMEID_PERSISTENT)
    n1, n2 = r1.find(".//saml:NameID", NS), r2.find(".//saml:NameID", NS)
    assert n1.get("Format") == NAMEID_PERSISTENT and n1.text == n2.text != user.name_id
    _, _, t1, _ = _sso(server, idp, user=user, name_id_format=NAMEID_TRANSIENT)
    _, _, t2, _ = _sso(server, idp, user=user, name_id_format=NAMEID_TRANSIENT)
    assert t1.findtext(".//saml:NameID", namespaces=NS) != t2.findtext(".//saml:NameID", namespaces=NS)


def test_unknown_sp_gets_an_error_response_it_is_not_sent(served) -> None:
    _, server = served
    _, enc, _ = authn_request("urn:stranger", acs_url="https://stranger.example/acs")
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc, "RelayState": "z"})
    assert r.status_code == 400 and "unknown SP" in r.headers["X-Samlconf-Error"]
    form = etree.HTML(r.text).find(".//form[@id='saml-error']")
    assert form.get("action") == "https://stranger.example/acs" and "onload" not in r.text
    fields = {i.get("name"): i.get("value") for i in form.iter("input")}
    assert _codes(etree.fromstring(base64.b64decode(fields["SAMLResponse"]))) == ["Requester", "RequestDenied"]
    assert fields["RelayState"] == "z"


def test_unsupported_protocol_binding(served) -> None:
    idp, server = served
    rid, enc, xml = authn_request(SP)
    xml = xml.replace(b"<saml:Issuer", b"<saml:Issuer", 1)
    from mock_idp.bindings import encode_redirect

    xml = xml.replace(b'Version="2.0"', b'Version="2.0" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"')
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": encode_redirect(xml)})
    _, fields = _post_form(r.text)
    assert _codes(etree.fromstring(base64.b64decode(fields["SAMLResponse"]))) == ["Requester", "UnsupportedBinding"]


def test_plan_restricted_to_one_sp(served) -> None:
    idp, server = served
    token = idp.plan_login(generate_user(seed=1), sp_entity_id=OTHER_SP)
    _, enc, _ = authn_request(SP)
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc}, cookies={PLAN_COOKIE: token})
    assert 'id="login"' in r.text  # not the planned answer: the person is asked


def test_plan_with_faults_and_options(served) -> None:
    idp, server = served
    token = idp.plan_login(generate_user(seed=1), ["audience-wrong"], sign_response=False)
    _, enc, _ = authn_request(SP)
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc}, cookies={PLAN_COOKIE: token})
    _, fields = _post_form(r.text)
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assert root.findtext(".//saml:Audience", namespaces=NS) == "https://other-sp.example.com/saml"
    assert root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None
    with pytest.raises(TypeError):
        idp.plan_login(generate_user(seed=1), bogus_option=1)


def test_idp_initiated_with_plan(served) -> None:
    idp, server = served
    user = generate_user("redis_cloud", seed=4)
    r = httpx.get(f"{server.base_url}/idp-initiated", params={"sp": SP, "RelayState": "/dashboard"},
                  cookies={PLAN_COOKIE: idp.plan_login(user)})
    action, fields = _post_form(r.text)
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assert action == f"{server.base_url}/acs1" and fields["RelayState"] == "/dashboard"
    assert root.get("InResponseTo") is None and root.find(".//saml:SubjectConfirmationData", NS).get("InResponseTo") is None
    r = httpx.get(f"{server.base_url}/idp-initiated", params={"sp": SP, "acs_index": "0"}, cookies={PLAN_COOKIE: idp.plan_login(user)})
    assert _post_form(r.text)[0] == f"{server.base_url}/acs0"


def test_idp_initiated_launch_and_login_pages(served) -> None:
    idp, server = served
    with httpx.Client(base_url=server.base_url) as c:
        page = c.get("/idp-initiated")
        assert SP in page.text and OTHER_SP in page.text
        login = c.get("/idp-initiated", params={"sp": OTHER_SP, "RelayState": "x"})
        _, fields = _post_form(login.text)
        fields = {k: v for k, v in fields.items() if k not in ("fault",)}
        fields["user"] = "1"
        fields["fault_expr"] = "clock-skew(seconds=-30), attr-value(name=Email,value=boss@example.com)"
        r = c.post("/login", data=fields)
    action, out = _post_form(r.text)
    root = etree.fromstring(base64.b64decode(out["SAMLResponse"]))
    assert action == f"{server.base_url}/other-acs" and out["RelayState"] == "x"
    vals = {a.get("Name"): [v.text for v in a] for a in root.iterfind(".//saml:Attribute", NS)}
    assert vals["Email"] == ["boss@example.com"]


@pytest.mark.parametrize(
    "path,params,needle",
    [
        ("/idp-initiated", {"sp": "urn:nobody"}, "unknown SP"),
        ("/idp-initiated", {"sp": SP, "acs": "https://evil.example/acs"}, "not registered"),
        ("/login", {}, "expired or unknown"),
        ("/slo", {}, "missing SAMLRequest"),
        ("/slo", {"SAMLRequest": "@@"}, "base64"),
    ],
)
def test_bad_requests_are_one_line_400s(served, path, params, needle) -> None:
    _, server = served
    r = httpx.request("POST" if path == "/login" else "GET", f"{server.base_url}{path}", params=params)
    assert r.status_code == 400 and needle in r.headers["X-Samlconf-Error"]


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
)


@pytest.mark.parametrize(
    "data,needle",
    [
        ({"SAMLRequest": "%%%"}, "base64"),
        ({"SAMLRequest": base64.b64encode(BOMB).decode()}, "DOCTYPE"),
        ({"SAMLRequest": base64.b64encode(b"<a>" + b"x" * 600_000 + b"</a>").decode()}, "too large"),
        ({"SAMLRequest": "QUFB" * 700_000}, "too large"),
        ({"RelayState": "x"}, "missing SAMLRequest"),
    ],
)
def test_sso_post_binding_bad_input(served, data, needle) -> None:
    _, server = served
    r = httpx.post(f"{server.base_url}/sso", data=data)
    assert r.status_code in (400, 413) and needle in r.headers["X-Samlconf-Error"]
    assert httpx.get(f"{server.base_url}/metadata").status_code == 200


def test_register_sp_from_url(served) -> None:
    from flask import Flask

    idp, _ = served
    md = sp_metadata("https://by-url.example.test/sp", ["http://127.0.0.1:9/acs"])
    app = Flask("md")
    app.add_url_rule("/md", "md", lambda: (md, 200, {"Content-Type": "application/samlmetadata+xml"}))
    with LoopbackServer() as srv:
        srv.start(app)
        sp = idp.register_sp_url(f"{srv.base_url}/md")
        assert sp.entity_id == "https://by-url.example.test/sp" and idp.sp(sp.entity_id) is sp
        from mock_idp.metadata import MetadataError

        with pytest.raises(MetadataError) as ei:
            idp.register_sp_url(f"{srv.base_url}/missing")
        assert "cannot fetch" in str(ei.value)


def test_add_sp_at_run_time(served) -> None:
    idp, server = served
    md = sp_metadata("https://runtime.example.test/sp", ["http://127.0.0.1:9/acs"])
    r = httpx.post(f"{server.base_url}/sps", content=md, headers={"Content-Type": "application/samlmetadata+xml"})
    assert r.status_code == 200 and idp.sp("https://runtime.example.test/sp")
    r = httpx.post(f"{server.base_url}/sps", data={"metadata": sp_metadata("https://form.example.test/sp", ["http://127.0.0.1:9/a"]).decode()})
    assert r.status_code == 200 and 'id="sp-added"' in r.text and idp.sp("https://form.example.test/sp")
    r = httpx.post(f"{server.base_url}/sps", data={"metadata": "<x/>"})
    assert r.status_code == 400 and "EntityDescriptor" in r.headers["X-Samlconf-Error"]
    assert "add-sp" in httpx.get(f"{server.base_url}/").text


def test_oob_watch_records_fetches(served) -> None:
    idp, server = served
    url = idp.oob_url("tok123", "xxe")
    assert httpx.get(url).status_code == 200
    assert [h["kind"] for h in idp.oob_hits("tok123")] == ["xxe"]


def test_sp_metadata_parsing_rejects_bad_input() -> None:
    from mock_idp.metadata import MetadataError, parse_sp_metadata

    for bad, needle in [
        (b"<x/>", "expected EntityDescriptor"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "DOCTYPE"),
        (b"not xml", "well-formed"),
        (sp_metadata(SP, []), "no AssertionConsumerService"),
    ]:
        with pytest.raises(MetadataError) as ei:
            parse_sp_metadata(bad)
        assert needle in str(ei.value)
    sp = parse_sp_metadata(sp_metadata(SP, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"], default_index=1,
                                       signing_cert=ephemeral("s"), authn_requests_signed=True, slo_url="http://127.0.0.1:1/slo"))
    assert sp.default_acs().index == 1 and sp.authn_requests_signed and sp.want_assertions_signed
    assert len(sp.signing_certs) == 1 and [e.binding.rsplit(":", 1)[1] for e in sp.slo] == ["HTTP-Redirect", "HTTP-POST"]


# ------------------------------------------------------------------ users files
def test_users_from_toml_and_yaml() -> None:
    toml_users = load_users(FIX / "users.toml")
    assert [u.name_id for u in toml_users] == ["ada@example.com", "_4f3c2a"]
    assert toml_users[0].attributes["redisAccountMapping"] == ["12345=owner", "54321=manager"]
    assert toml_users[1].name_id_format == NAMEID_PERSISTENT and toml_users[1].attributes["FirstName"] == ["Zoë"]
    (yaml_user,) = load_users(FIX / "users.yaml")
    assert yaml_user.attributes["tenantid"] == ["acme,globex"] and yaml_user.attributes["role"] == ["Super_Administrator"]


def test_users_file_errors(tmp_path: Path) -> None:
    for name, text, needle in [
        ("a.toml", "users = 3", "non-empty 'users' list"),
        ("b.toml", "[[users]]\nlabel='x'", "missing string field 'name_id'"),
        ("c.yaml", "users: [", "not valid yaml"),
    ]:
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(UserFileError) as ei:
            load_users(p)
        assert needle in str(ei.value) and str(p) in str(ei.value)
    with pytest.raises(UserFileError):
        load_users(tmp_path / "missing.toml")


# ------------------------------------------------------------------ CLI
def _parse(argv):
    import argparse

    from mock_idp.cli import add_parser

    parser = argparse.ArgumentParser(prog="samlconf")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_faults_lists_everything() -> None:
    from mock_idp import faults

    out = io.StringIO()
    args = _parse(["idp", "faults", "--json"])
    assert args.func(args, out) == 0
    data = json.loads(out.getvalue())
    assert {d["id"] for d in data} == set(faults.REGISTRY)
    assert all(d["description"] and d["refs"] and d["stage"] in ("pre-sign", "post-sign") for d in data)
    out = io.StringIO()
    args = _parse(["idp", "faults"])
    assert args.func(args, out) == 0
    assert "xsw-03" in out.getvalue() and "XSW-03" in out.getvalue()


def test_cli_metadata(tmp_path: Path) -> None:
    out = io.StringIO()
    args = _parse(["idp", "metadata", "--key-dir", str(tmp_path), "--base-url", "http://127.0.0.1:7000"])
    assert args.func(args, out) == 0
    md = etree.fromstring(out.getvalue().encode())
    assert {e.get("Location") for e in md.iter("{*}SingleSignOnService")} == {"http://127.0.0.1:7000/sso"}


def test_cli_serve_with_users_and_sp_metadata(tmp_path: Path) -> None:
    spmd = tmp_path / "sp.xml"
    spmd.write_bytes(sp_metadata(SP, ["http://127.0.0.1:9/acs"]))
    out = io.StringIO()
    args = _parse(["idp", "serve", "--port", "0", "--key-dir", str(tmp_path), "--users", str(FIX / "users.toml"),
                   "--sp-metadata", str(spmd)])
    server, idp = args.func(args, out, block=False)
    try:
        assert "trusting SP https://sp.example.test/saml" in out.getvalue()
        assert httpx.get(f"{server.base_url}/metadata").status_code == 200
        page = httpx.get(f"{server.base_url}/idp-initiated", params={"sp": SP})
        assert "ada@example.com" in page.text and "Ada (owner)" in page.text
    finally:
        server.stop()


def test_cli_serve_errors_are_one_line(tmp_path: Path, capsys) -> None:
    args = _parse(["idp", "serve", "--port", "0", "--key-dir", str(tmp_path), "--users", str(tmp_path / "nope.toml")])
    assert args.func(args, io.StringIO(), block=False) == 2
    args = _parse(["idp", "serve", "--port", "0", "--key-dir", str(tmp_path), "--sp-metadata", str(tmp_path / "nope.xml")])
    assert args.func(args, io.StringIO(), block=False) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("samlconf idp: ") for line in err)


def test_docs_fault_table_is_current() -> None:
    from mock_idp.cli import faults_markdown

    doc = (Path(__file__).parent.parent / "docs" / "mock-idp.md").read_text(encoding="utf-8")
    assert doc.endswith(faults_markdown()), "regenerate with: samlconf idp faults --markdown"
