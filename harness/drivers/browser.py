"""The `browser` driver: Playwright (sync API) + Chromium, a real person's path through the bindings.

One browser per driver (per worker). Each session gets a browser context and tab of its own while
it lives (own cookies); a context whose session passed goes back to a small pool with its tab kept
and its cookies, storage, cache and history cleared (a new tab costs a renderer process, more than
the login it carries), one kept for its trace is closed. A screenshot of every page the login
settles on (not of the auto-POST pages in between); a positive control's only when it fails;
a Playwright trace kept when the scenario fails. Chromium comes from the `chromium`
option, else env `SAMLCONF_CHROMIUM`, else Playwright's own install (`playwright install chromium`).
"""
from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from .. import samlmsg
from ..errors import HarnessError, TargetError
from ..events import Hop
from . import PageResult, whoami_json
from .http import MAX_HOPS, PLAN_COOKIE, origin, refusal_by_5xx

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
_SAML_FORM_JS = "() => !!document.querySelector('input[name=SAMLResponse], input[name=SAMLRequest]')"
_SUBMIT_JS = ("() => { const i = document.querySelector('input[name=SAMLResponse], input[name=SAMLRequest]');"
              " if (i && i.form) i.form.submit(); }")
_counter = itertools.count(1)


def chromium_path(option: str | None = None) -> str | None:
    path = option or os.environ.get("SAMLCONF_CHROMIUM")
    if path and not Path(path).exists():
        raise HarnessError(f"Chromium executable {path!r} (SAMLCONF_CHROMIUM / --chromium) does not exist")
    return path


class BrowserSession:
    def __init__(self, browser: Any, *, allowed_origins: set[str], artifacts: Path, timeout_ms: float,
                 on_hop: Callable[[Hop], None] | None, idp_origin: str | None = None,
                 slot: "_ContextSlot | None" = None, release: Callable[["_ContextSlot"], None] | None = None) -> None:
        self._release = release
        self.allowed = {o.lower() for o in allowed_origins}
        self.idp_origin = (idp_origin or "").lower() or None
        self.hops: list[Hop] = []
        self.server_errors: list[str] = []  # 5xx answers to SAML messages (refusals, judged by whoami)
        self.diagnostics: list[str] = []  # what the browser can tell about a failing login (cookies, console)
        self._set_cookies: list[tuple[str, str, str]] = []  # (url, cookie name, attributes) seen, unchecked
        self.artifacts: list[str] = []
        self.quiet = False  # set for positive controls: screenshots only if closed for the evidence
        self._unshot = False
        self._on_hop = on_hop
        self._dir = artifacts / f"session-{next(_counter):04d}"
        self._offsite: str | None = None
        self._server_error: str | None = None
        self._slot = slot if slot is not None else _ContextSlot(browser)
        self._slot.owner = self
        self.context = self._slot.context
        self.context.set_default_timeout(timeout_ms)
        # DOM snapshots make the trace viewer's pictures; a screencast of every frame costs more than the login
        self.context.tracing.start(screenshots=False, snapshots=True)
        self.page = self._slot.page  # its events come here through the slot while this session owns it

    # --- observation ------------------------------------------------------------------
    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "about:", "blob:")) or origin(url) in self.allowed:
            route.continue_()
        else:
            self._offsite = self._offsite or url
            route.abort("blockedbyclient")

    def _on_response(self, response: Any) -> None:
        req = response.request
        if req.resource_type != "document":
            return
        if req.method == "POST":
            params = dict(parse_qsl(req.post_data or ""))
        else:
            params = dict(parse_qsl(urlsplit(req.url).query))
        hop = Hop(req.method, req.url, response.status,
                  samlmsg.summarize_params(params, redirect=req.method == "GET"))
        self.hops.append(hop)
        try:
            for h in response.headers_array():
                if h["name"].lower() == "set-cookie":
                    name, _, rest = h["value"].partition("=")
                    self._set_cookies.append((req.url, name.strip(), rest))
        except Exception:  # noqa: BLE001 - headers are evidence; a closed page must not break the run
            pass
        if response.status >= 500:
            self._server_status(req.method, req.url, response.status, params, hop)
        if self._on_hop:
            self._on_hop(hop)

    def _diagnose(self, text: str) -> None:
        text = " ".join(text.split())[:300]
        if text not in self.diagnostics and len(self.diagnostics) < 20:
            self.diagnostics.append(text)

    def _on_console(self, msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):  # statuses are in the hops
            self._diagnose(f"console error at {self.page.url}: {msg.text}")

    def _on_pageerror(self, exc: Any) -> None:
        self._diagnose(f"script error at {self.page.url}: {exc}")

    def _on_requestfailed(self, req: Any) -> None:
        if req.resource_type != "document" or req.url == self._offsite or "ERR_ABORTED" in (req.failure or ""):
            return
        self._diagnose(f"navigation to {req.url} failed: {req.failure or 'unknown error'}")

    def _check_cookies(self) -> None:
        """Cookies the SP set that the browser did not keep, with the likely reason (e.g. a current
        Chromium refuses SameSite=None without Secure)."""
        seen, self._set_cookies = self._set_cookies, []
        for url, name, rest in seen:
            attrs = [a.strip().lower() for a in rest.split(";")[1:]]
            value = rest.split(";", 1)[0].strip()
            if not value or "max-age=0" in attrs or any(a.startswith("expires=thu, 01 jan 1970") for a in attrs):
                continue  # a deletion
            try:
                kept = {c["name"] for c in self.context.cookies([url])}
            except Exception:  # noqa: BLE001
                return
            if name in kept:
                continue
            if "samesite=none" in attrs and "secure" not in attrs:
                why = "SameSite=None without Secure: a current Chromium refuses such a cookie"
            elif "secure" in attrs and url.startswith("http://"):
                why = "Secure cookie set over plain HTTP"
            elif any(a.startswith("domain=") for a in attrs):
                why = "its Domain attribute does not match the host"
            else:
                why = "the browser did not store it"
            self._diagnose(f"the browser dropped the cookie {name!r} set by {url} ({why})")

    def _server_status(self, method: str, url: str, status: int, params: dict[str, str], hop: Hop) -> None:
        """A 5xx: the SP's refusal of a SAML message (judged by whoami, recorded as a finding), or
        else the target broke (error)."""
        what = f"{method} {url} answered HTTP {status}"
        if refusal_by_5xx(url, params, self.idp_origin):
            self.server_errors.append(what)
            hop.note = f"HTTP {status} to a SAML message: a refusal (judged by whoami)"
        elif self._server_error is None:
            self._server_error = what

    def _settled(self) -> None:
        """The login settled on a page: its screenshot, now, or for a quiet session (a positive
        control, whose evidence is shown only when it fails) only if it is closed for its trace."""
        if self.quiet:
            self._unshot = True
        else:
            self._screenshot()

    def _screenshot(self) -> None:
        self._unshot = False
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"hop-{len(self.artifacts) + 1:02d}.png"
        try:
            self.page.screenshot(path=str(path))
        except Exception:  # noqa: BLE001 - a screenshot is evidence, not a reason to fail the run
            return
        self.artifacts.append(str(path))
        if self.hops:
            self.hops[-1].screenshot = str(path)

    def _raise_if_broken(self) -> None:
        if self._offsite:
            raise TargetError(f"the target sent the browser outside the target, to {self._offsite}")
        if self._server_error:
            raise TargetError(self._server_error)

    # --- DriverSession ----------------------------------------------------------------
    def set_idp_plan(self, idp_base_url: str, token: str) -> None:
        self.context.add_cookies([{"name": PLAN_COOKIE, "value": token, "url": idp_base_url}])

    def _post_form(self, url: str, data: dict[str, str]) -> PageResult:
        """A form POST in this browser context (its cookie jar), following redirects on the target.
        Playwright's request API shares the context's cookies, so the session it sets is the browser's."""
        from urllib.parse import urljoin

        from playwright.sync_api import Error as PWError

        method, form = "POST", data
        for _ in range(MAX_HOPS):
            try:
                if method == "POST":
                    resp = self.context.request.post(url, form=form, max_redirects=0)
                else:
                    resp = self.context.request.get(url, max_redirects=0)
            except PWError as exc:
                raise TargetError(f"{method} {url}: {str(exc).splitlines()[0]}") from None
            hop = Hop(method, url, resp.status,
                      samlmsg.summarize_params(form, redirect=False) if method == "POST" else {})
            self.hops.append(hop)
            if self._on_hop:
                self._on_hop(hop)
            if resp.status >= 500:
                self._server_status(method, url, resp.status, form if method == "POST" else {}, hop)
                self._raise_if_broken()
                return PageResult(url, resp.status, resp.text())
            location = resp.headers.get("location")
            if 300 <= resp.status < 400 and location:
                nxt = urljoin(url, location)
                if origin(nxt) not in self.allowed:
                    raise TargetError(f"{url} (redirect) sent the browser outside the target, to {nxt}")
                url, method, form = nxt, "GET", {}
                continue
            return PageResult(url, resp.status, resp.text())
        raise TargetError(f"more than {MAX_HOPS} redirects starting at {url}")

    def navigate(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> PageResult:
        if origin(url) not in self.allowed:
            raise TargetError(f"the scenario sent the browser outside the target, to {url}")
        if method == "POST":
            return self._post_form(url, data or {})
        return self._browse(url, lambda: self.page.goto(url, wait_until="load"))

    def fill_form(self, url: str, fields: dict[str, str]) -> PageResult:
        """Open `url`, type `fields` into the form's inputs (by name) and submit it, like a person."""
        if origin(url) not in self.allowed:
            raise TargetError(f"the scenario sent the browser outside the target, to {url}")

        def start() -> Any:
            response = self.page.goto(url, wait_until="load")
            self._settled()
            last = None
            for name, value in fields.items():
                last = self.page.locator(f"[name={name!r}]").first
                if last.count() == 0:
                    raise TargetError(f"{url}: the page has no form field named {name!r}")
                last.fill(value)
            with self.page.expect_navigation(wait_until="load"):
                self.page.evaluate("(el) => el.form ? el.form.requestSubmit() : null", last.element_handle())
            return response

        return self._browse(url, start)

    def _browse(self, url: str, start: Callable[[], Any]) -> PageResult:
        """Run `start` (a navigation), then follow auto-POST SAML forms until the page settles."""
        from playwright.sync_api import Error as PWError
        from playwright.sync_api import TimeoutError as PWTimeout

        try:
            response = start()
            for _ in range(MAX_HOPS):
                self._raise_if_broken()
                here = self.page.url
                try:
                    has_form = self.page.evaluate(_SAML_FORM_JS)
                except PWError:  # the page navigated while we looked: look again once it loaded
                    self.page.wait_for_load_state("load")
                    continue
                if not has_form:
                    break
                try:  # an auto-POST page submits itself on load; give it a moment
                    self.page.wait_for_url(lambda u, here=here: u != here, wait_until="load", timeout=3000)
                except PWTimeout:  # no script (or it failed): press the form's button like a person
                    with self.page.expect_navigation(wait_until="load"):
                        self.page.evaluate(_SUBMIT_JS)
            else:
                raise TargetError(f"more than {MAX_HOPS} auto-POST forms starting at {url}")
            self.page.wait_for_load_state("load")
            self._check_cookies()
            self._raise_if_broken()
            self._settled()
            status = self.hops[-1].status if self.hops else (response.status if response else 0)
            return PageResult(self.page.url, int(status or 0), self.page.content())
        except PWTimeout:
            self._check_cookies()
            self._raise_if_broken()
            raise TargetError(f"{url}: the page did not finish loading within the timeout") from None
        except PWError as exc:
            self._check_cookies()
            self._raise_if_broken()
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TargetError(f"{url}: browser error: {first}") from None

    def fetch(self, url: str, note: str = "whoami probe (page)") -> tuple[int, str]:
        """GET a page with this context's cookies, without following redirects: (status, text)."""
        from playwright.sync_api import Error as PWError

        try:
            resp = self.context.request.get(url, max_redirects=0)
        except PWError as exc:
            raise TargetError(f"whoami {url}: {str(exc).splitlines()[0]}") from None
        self.hops.append(Hop("GET", url, resp.status, note=note))
        if resp.status >= 500:
            raise TargetError(f"whoami {url} answered HTTP {resp.status}")
        return resp.status, resp.text()

    def whoami(self, url: str) -> tuple[int, Any]:
        return whoami_json(url, *self.fetch(url, note="whoami probe"))

    def close(self, keep_trace: bool = False) -> None:
        reusable = False
        try:
            if keep_trace:
                if self._unshot:
                    self._screenshot()
                self._dir.mkdir(parents=True, exist_ok=True)
                trace = self._dir / "trace.zip"
                self.context.tracing.stop(path=str(trace))
                self.artifacts.append(str(trace))
            else:
                self.context.tracing.stop()
                reusable = self._release is not None and self._slot.reset(self.page, self.allowed)
        finally:
            self._slot.owner = None
            if reusable and self._release is not None:
                self._release(self._slot)
            else:
                self.context.close()


class _ContextSlot:
    """A browser context and its tab that outlive one session: request routing and page events go
    to whichever session owns them now; `reset` clears what a session left (cookies, local and
    session storage, cache, history) before the next. A new tab costs a renderer process (~0.3 s
    on a loaded 2-core machine, more than the login it carries); a cleared one costs ~10 ms."""

    def __init__(self, browser: Any) -> None:
        self.owner: BrowserSession | None = None
        self.context = browser.new_context()
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self._cdp: Any = None  # one DevTools session on the tab, for the resets
        for event in ("response", "console", "pageerror", "requestfailed"):
            self.page.on(event, lambda arg, _e=event: self._dispatch(_e, arg))

    def _route(self, route: Any) -> None:
        if self.owner is not None:
            self.owner._route(route)
        else:
            route.abort("blockedbyclient")

    def _dispatch(self, event: str, arg: Any) -> None:
        owner = self.owner
        if owner is not None:
            getattr(owner, "_on_" + event)(arg)

    def reset(self, page: Any, origins: set[str]) -> bool:
        """Clear the session's state; False when it could not be cleared (then do not reuse)."""
        try:
            if page is not self.page or page.is_closed():
                return False
            page.goto("about:blank")  # leave the target first: its scripts cannot write state back
            if self._cdp is None:
                self._cdp = self.context.new_cdp_session(page)
            cdp = self._cdp
            for o in origins:
                cdp.send("Storage.clearDataForOrigin", {"origin": o, "storageTypes": "all"})
            cdp.send("Network.clearBrowserCache")
            cdp.send("Page.resetNavigationHistory")
            self.context.clear_cookies()
            for p in list(self.context.pages):
                if p is not page:
                    p.close()
            return True
        except Exception:  # noqa: BLE001 - a context we cannot clean is closed instead
            return False


class BrowserDriver:
    """Owns one Playwright instance and one Chromium; makes a fresh context per session."""

    name = "browser"

    def __init__(self, runtime: Any, *, chromium: str | None = None, artifacts_dir: str | Path | None = None,
                 headless: bool = True) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise HarnessError("the browser driver needs Playwright: pip install 'samlconf[browser]'") from None
        self.timeout_ms = runtime.target.timeouts.read * 1000
        self.artifacts = Path(artifacts_dir) if artifacts_dir else runtime.workdir / "artifacts"
        self._pool: list[_ContextSlot] = []
        self._pw = sync_playwright().start()
        exe = chromium_path(chromium)
        try:
            self.browser = self._pw.chromium.launch(
                headless=headless, executable_path=exe, args=CHROMIUM_ARGS
            )
        except Exception as exc:  # noqa: BLE001 - one line, with what to do
            self._pw.stop()
            first = re.sub(r"\s+", " ", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise HarnessError(
                f"cannot start Chromium ({first}); set SAMLCONF_CHROMIUM or run `playwright install chromium`"
            ) from None

    POOL = 4  # idle contexts kept (a scenario with a control and two sessions needs three)

    def new_session(self, allowed_origins: set[str], on_hop: Callable[[Hop], None] | None = None,
                    idp_origin: str | None = None) -> BrowserSession:
        slot = self._pool.pop() if self._pool else None
        return BrowserSession(self.browser, allowed_origins=allowed_origins, artifacts=self.artifacts,
                              timeout_ms=self.timeout_ms, on_hop=on_hop, idp_origin=idp_origin,
                              slot=slot, release=self._release)

    def _release(self, slot: _ContextSlot) -> None:
        if len(self._pool) < self.POOL:
            self._pool.append(slot)
        else:
            slot.context.close()

    def close(self) -> None:
        try:
            for slot in self._pool:
                try:
                    slot.context.close()
                except Exception:  # noqa: BLE001 - the browser closes them anyway
                    pass
            self._pool.clear()
            self.browser.close()
        finally:
            self._pw.stop()
