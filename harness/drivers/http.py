"""The `http` driver: httpx, following SAML's bindings itself (redirects and auto-POST forms)."""
from __future__ import annotations

import re
import ssl
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx
from lxml import html as lxml_html

from .. import samlmsg
from ..errors import TargetError
from ..events import Hop
from . import PageResult, whoami_json

MAX_HOPS = 20
MAX_BODY = 2 * 1024 * 1024
# our own mock IdP's pages may be larger (XML-13 sends a 20 MB SAMLResponse through its form)
MAX_IDP_BODY = 40 * 1024 * 1024
PLAN_COOKIE = "samlconf_idp_plan"


_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def browser_join(base: str, location: str) -> str:
    """Resolve a Location header as a browser does (WHATWG URL), not as urljoin does: leading and
    trailing spaces and control characters dropped, tabs and newlines removed, and in an http(s)
    URL a backslash before the query read as a slash. So `/\\evil.example/` and `/\t/evil.example/`
    leave for evil.example, while `https://sp.example//evil.example/` stays on sp.example."""
    ref = re.sub(r"[\t\n\r]", "", location).strip(_C0_AND_SPACE)
    if (urlsplit(ref).scheme or urlsplit(base).scheme).lower() in ("http", "https"):
        cut = min([i for i in (ref.find("?"), ref.find("#")) if i >= 0] or [len(ref)])
        ref = ref[:cut].replace("\\", "/") + ref[cut:]
    return urljoin(base, ref)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def find_saml_form(text: str, base_url: str) -> tuple[str, dict[str, str]] | None:
    """The auto-submitting SAML form in a page (a form carrying SAMLResponse or SAMLRequest)."""
    if "SAMLResponse" not in text and "SAMLRequest" not in text:
        return None
    try:
        # huge_tree: a SAMLResponse value may exceed libxml2's 10 MB text limit (XML-13 sends 20 MB)
        doc = lxml_html.document_fromstring(text, parser=lxml_html.HTMLParser(huge_tree=True))
    except (ValueError, Exception):  # lxml raises ParserError (a ValueError subclass) or XMLSyntaxError
        return None
    for form in doc.iter("form"):
        fields = {
            inp.get("name"): inp.get("value", "")
            for inp in form.iter("input")
            if inp.get("name")
        }
        if "SAMLResponse" in fields or "SAMLRequest" in fields:
            action = urljoin(base_url, form.get("action") or base_url)
            return action, fields
    return None


class HttpSession:
    """A cookie jar and a SAML-aware navigator; every exchange is recorded as a Hop."""

    def __init__(
        self,
        *,
        allowed_origins: set[str],
        timeout: httpx.Timeout,
        ca_file: Path | None = None,
        on_hop: Callable[[Hop], None] | None = None,
        idp_origin: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if transport is None:  # a session on its own (tests): its own pool and TLS context
            transport = httpx.HTTPTransport(verify=tls_context(ca_file))
        # Own cookies (a browser of its own); the driver's connection pool and TLS context.
        self.client = httpx.Client(follow_redirects=False, timeout=timeout, transport=transport)
        self.allowed = {o.lower() for o in allowed_origins}
        self.hops: list[Hop] = []
        self._last_ms = 0.0
        self.server_errors: list[str] = []  # 5xx answers to SAML messages (refusals, judged by whoami)
        self.idp_origin = (idp_origin or "").lower() or None
        self._on_hop = on_hop
        self._idp_origin: str | None = None

    # --- plumbing ------------------------------------------------------------------------
    def _send(self, method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        try:
            t0 = time.perf_counter()
            resp = self.client.request(method, url, data=data)
            resp.read()
            self._last_ms = (time.perf_counter() - t0) * 1000  # the server's answer, on the wire
        except httpx.ConnectError as exc:
            msg = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in msg or "SSL" in msg:
                raise TargetError(f"{url}: TLS certificate not trusted ({_short(msg)})") from None
            raise TargetError(f"{url}: cannot connect ({_short(msg)})") from None
        except httpx.TimeoutException:
            raise TargetError(f"{url}: no answer within the timeout") from None
        except httpx.InvalidURL as exc:
            # httpx builds the next request of a redirect even when not following it: a Location
            # such as "javascript:..." cannot be one, and leaves the target (RLY-03)
            raise TargetError(f"{url} (redirect) sent the browser outside the target, to a "
                              f"non-http(s) Location ({_short(str(exc))})") from None
        except httpx.HTTPError as exc:
            raise TargetError(f"{url}: HTTP error: {_short(str(exc))}") from None
        return resp

    def _record(self, method: str, url: str, status: int | None, params: dict[str, str], redirect: bool, note: str = "") -> None:
        hop = Hop(method, url, status, samlmsg.summarize_params(params, redirect=redirect), note,
                  ms=round(self._last_ms, 2))
        self.hops.append(hop)
        if self._on_hop:
            self._on_hop(hop)

    def _check_origin(self, url: str, came_from: str) -> None:
        if origin(url) not in self.allowed:
            raise TargetError(f"{came_from} sent the browser outside the target, to {url}")

    # --- DriverSession -------------------------------------------------------------------
    def set_idp_plan(self, idp_base_url: str, token: str) -> None:
        host = urlsplit(idp_base_url).hostname or "127.0.0.1"
        self.client.cookies.set(PLAN_COOKIE, token, domain=host, path="/")
        self._idp_origin = origin(idp_base_url)

    def navigate(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> PageResult:
        """Go to `url` and follow redirects and auto-POST SAML forms, as a browser would."""
        self._check_origin(url, "the scenario")
        for _ in range(MAX_HOPS):
            resp = self._send(method, url, data)
            params = dict(parse_qsl(urlsplit(url).query)) if method == "GET" else dict(data or {})
            if resp.status_code >= 500:
                if not refusal_by_5xx(url, params, self.idp_origin):
                    self._record(method, url, resp.status_code, params, redirect=(method == "GET"))
                    raise TargetError(f"{method} {url} answered HTTP {resp.status_code}")
                # The SP refused a SAML message with a server error (Shibboleth does so by design):
                # a refusal like a 4xx, judged by whoami; recorded as a robustness finding.
                self.server_errors.append(f"{method} {url} answered HTTP {resp.status_code}")
                self._record(method, url, resp.status_code, params, redirect=(method == "GET"),
                             note=f"HTTP {resp.status_code} to a SAML message: a refusal (judged by whoami)")
                return PageResult(url, resp.status_code, resp.text[:MAX_BODY])
            self._record(method, url, resp.status_code, params, redirect=(method == "GET"))
            if resp.is_redirect and "location" in resp.headers:
                nxt = browser_join(url, resp.headers["location"])
                self._check_origin(nxt, f"{url} (redirect)")
                url, method, data = nxt, "GET", None
                continue
            text = resp.text[:MAX_IDP_BODY if self._idp_origin and origin(url) == self._idp_origin else MAX_BODY]
            form = find_saml_form(text, url) if resp.status_code == 200 else None
            if form is not None:
                action, fields = form
                self._check_origin(action, f"{url} (auto-POST form)")
                url, method, data = action, "POST", fields
                continue
            return PageResult(url, resp.status_code, text)
        raise TargetError(f"more than {MAX_HOPS} redirects/forms starting at {url}")

    def fetch(self, url: str, note: str = "whoami probe (page)") -> tuple[int, str]:
        """GET a page without following redirects (a redirect = nobody signed in): (status, text)."""
        resp = self._send("GET", url)
        self._record("GET", url, resp.status_code, {}, redirect=True, note=note)
        if resp.status_code >= 500:
            raise TargetError(f"whoami {url} answered HTTP {resp.status_code}")
        return resp.status_code, resp.text[:MAX_BODY]

    def fill_form(self, url: str, fields: dict[str, str]) -> PageResult:
        """GET `url`, fill `fields` into the form that has them (other inputs keep their values) and
        submit it with the form's own method and action, then follow the SAML bindings."""
        page = self.navigate(url)
        try:
            doc = lxml_html.document_fromstring(page.text or "<html></html>")
        except (ValueError, Exception):  # noqa: BLE001 - lxml's ParserError and friends
            raise TargetError(f"{url}: the login page is not HTML") from None
        for form in doc.iter("form"):
            names = {i.get("name") for i in form.iter("input", "select", "textarea")}
            if set(fields) <= names:
                data = {i.get("name"): i.get("value", "") for i in form.iter("input") if i.get("name")
                        and ((i.get("type") or "").lower() not in ("checkbox", "radio") or i.get("checked") is not None)}
                data.update(fields)
                action = urljoin(page.url, form.get("action") or page.url)
                if (form.get("method") or "get").lower() == "post":
                    return self.navigate(action, method="POST", data=data)
                sep = "&" if urlsplit(action).query else "?"
                return self.navigate(action + sep + urlencode(data))
        raise TargetError(f"{url}: no form on the page has the fields {', '.join(sorted(fields))}")

    def whoami(self, url: str) -> tuple[int, Any]:
        """GET the whoami URL: (status, parsed JSON or None). Redirects are not followed (= nobody)."""
        return whoami_json(url, *self.fetch(url, note="whoami probe"))

    def close(self) -> None:
        self.client.close()


def refusal_by_5xx(url: str, params: dict[str, str], idp_origin: str | None) -> bool:
    """A 5xx counts as the SP's refusal (not an error) when it answers a SAML message (SAMLResponse
    or SAMLRequest: the ACS or an SLO endpoint) sent to the target, never to our own IdP."""
    if not ("SAMLResponse" in params or "SAMLRequest" in params):
        return False
    return idp_origin is None or origin(url) != idp_origin


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """The TLS context for https targets (the system's CA bundle, or `ca_file`); building one loads
    the bundle (~20-30 ms), so a driver builds it once per run."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class _SharedTransport(httpx.HTTPTransport):
    """One connection pool for every session of a driver: sessions close their client, not the pool."""

    def close(self) -> None:  # a session's Client.close() lands here: keep the pool
        pass

    def shut(self) -> None:
        super().close()


class HttpDriver:
    name = "http"

    def __init__(self, *, timeout: httpx.Timeout, ca_file: Path | None = None) -> None:
        self.timeout = timeout
        self.ca_file = ca_file
        self._transport: _SharedTransport | None = None

    def new_session(self, allowed_origins: set[str], on_hop: Callable[[Hop], None] | None = None,
                    idp_origin: str | None = None) -> HttpSession:
        if self._transport is None:
            self._transport = _SharedTransport(verify=tls_context(self.ca_file), limits=httpx.Limits(
                max_connections=32, max_keepalive_connections=16))
        return HttpSession(allowed_origins=allowed_origins, timeout=self.timeout, on_hop=on_hop,
                           idp_origin=idp_origin, transport=self._transport)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.shut()
            self._transport = None
