"""Robustness of the mock IdP's runtime API (issue 13, items 1 and 2): SP metadata fetched only from
loopback, without redirects and with a streamed size cap; SP registration refused from another
origin; the out-of-band watch keeps a bounded number of hits."""
from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from flask import Flask, Response

from harness.serving import LoopbackServer
from mock_idp import MockIdP, ephemeral
from mock_idp.metadata import MetadataError
from mock_idp.testing import sp_metadata

CHUNK = 64 * 1024


@pytest.fixture()
def idp_server():
    server = LoopbackServer()
    idp = MockIdP(base_url=server.base_url, key=ephemeral("robust-idp"))
    server.start(idp.app())
    try:
        yield idp, server
    finally:
        server.stop()


@pytest.fixture()
def metadata_server():
    """/huge streams up to 300 MiB (counting what it produced), /redir redirects to /md."""
    sent = {"chunks": 0}
    md = sp_metadata("https://redir.example.test/sp", ["http://127.0.0.1:9/acs"])
    app = Flask("md")

    def huge() -> Response:
        def body() -> Iterator[bytes]:
            yield b"<EntityDescriptor>"
            for _ in range(300 * 1024 * 1024 // CHUNK):
                sent["chunks"] += 1
                yield b" " * CHUNK
        return Response(body(), mimetype="application/samlmetadata+xml")

    app.add_url_rule("/huge", "huge", huge)
    app.add_url_rule("/md", "md", lambda: (md, 200, {"Content-Type": "application/samlmetadata+xml"}))
    app.add_url_rule("/redir", "redir", lambda: ("", 302, {"Location": "/md"}))
    with LoopbackServer() as srv:
        srv.start(app)
        yield srv, sent


def test_metadata_body_is_cut_at_the_cap_not_read_whole(idp_server, metadata_server) -> None:
    idp, _ = idp_server
    srv, sent = metadata_server
    with pytest.raises(MetadataError, match="larger than 2 MiB"):
        idp.register_sp_url(f"{srv.base_url}/huge")
    # 2 MiB is 32 chunks; socket buffers let the server run somewhat ahead, never 300 MiB (4,800 chunks).
    assert sent["chunks"] < 400


def test_metadata_redirects_are_not_followed(idp_server, metadata_server) -> None:
    idp, _ = idp_server
    srv, _ = metadata_server
    with pytest.raises(MetadataError, match="redirects to"):
        idp.register_sp_url(f"{srv.base_url}/redir")
    assert idp.register_sp_url(f"{srv.base_url}/md").entity_id == "https://redir.example.test/sp"


@pytest.mark.parametrize("url", ["http://example.com/md", "http://10.0.0.1/md", "file:///etc/passwd",
                                 "http://127.0.0.1.example.com/md"])
def test_metadata_urls_off_this_machine_are_refused_without_a_request(idp_server, url) -> None:
    idp, _ = idp_server
    with pytest.raises(MetadataError, match="only loopback URLs"):
        idp.register_sp_url(url)


def test_remote_metadata_allowed_only_when_asked() -> None:
    idp = MockIdP(base_url="http://127.0.0.1:1", key=ephemeral("robust-idp"), allow_remote_metadata=True)
    with pytest.raises(MetadataError, match="cannot fetch"):  # tried (and failed: no such host/port)
        idp.register_sp_url("http://127.0.0.1:1/md")


def test_cross_origin_sp_registration_is_refused(idp_server) -> None:
    idp, server = idp_server
    md = sp_metadata("https://csrf.example.test/sp", ["http://127.0.0.1:9/acs"]).decode()
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        r = httpx.post(f"{server.base_url}/sps", data={"metadata": md}, headers=headers)
        assert r.status_code == 403, headers
        assert "another origin" in r.headers["X-Samlconf-Error"]
    with pytest.raises(Exception):
        idp.sp("https://csrf.example.test/sp")
    r = httpx.post(f"{server.base_url}/sps", data={"metadata": md},
                   headers={"Origin": server.base_url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200 and idp.sp("https://csrf.example.test/sp")


def test_oob_watch_is_bounded_and_watchers_see_only_new_hits(idp_server) -> None:
    idp, server = idp_server
    start = idp.oob_seq()
    n = idp.MAX_OOB_HITS + 500
    for i in range(n):
        idp.record_oob(f"tok{i}", "xxe", {"method": "GET", "query": "q" * 10_000})
    assert len(idp.oob_hits()) == idp.MAX_OOB_HITS
    assert all(len(h["query"]) <= idp.MAX_OOB_QUERY for h in idp.oob_hits())
    assert idp.oob_seq() == start + n
    mark = idp.oob_seq()
    assert httpx.get(idp.oob_url("fresh", "dtd")).status_code == 200
    assert [h["token"] for h in idp.oob_hits(since=mark)] == ["fresh"]
    assert [h["kind"] for h in idp.oob_hits("fresh")] == ["dtd"]
