"""What a scenario function gets: `ctx`, with the IdP, a fresh driver session and the observers."""
from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import urlencode

from .drivers import PageResult
from .errors import HarnessError, TargetError
from .events import Hop
from .registry import ACCEPT, Level
from .runtime import Runtime, fill_placeholders, json_path
from .verdict import UNKNOWN, Observation


class ScenarioContext:
    """One scenario run: a fresh session (own cookies), the run's IdP and the target's observers."""

    def __init__(self, runtime: Runtime, session: Any, driver_name: str,
                 new_session: Any = None) -> None:
        self.runtime = runtime
        self.session = session
        self._new_session = new_session
        self._closed: list[Any] = []  # sessions closed by restart(): their hops, artifacts and 5xx stay evidence
        self._first = session
        self._extra: list[Any] = []
        self.driver = driver_name
        self.profile = runtime.profile
        self.target = runtime.target
        self.idp = runtime.idp
        self.notes: list[str] = []
        self.plan_tokens: list[str] = []  # the IdP plans of this scenario's logins (what was sent)
        self.expected = ACCEPT  # set by the engine: what the profile expects of this scenario
        self.level = Level.MUST  # set by the engine: the scenario's level
        self._undo: list[tuple[str, Any]] = []  # what to put back when the scenario ends (undo())
        self.cleanup_failures: list[str] = []  # set by the engine: undo() calls that failed

    @property
    def hops(self) -> list[Hop]:
        return [h for s in self._closed for h in s.hops] + [h for s in self.sessions() for h in s.hops]

    @property
    def server_errors(self) -> list[str]:
        """5xx answers the SP gave to SAML messages in this scenario (refusals; robustness findings)."""
        return [e for s in [*self._closed, *self.sessions()] for e in getattr(s, "server_errors", [])]

    @property
    def diagnostics(self) -> list[str]:
        """What the browser could tell about this scenario's navigations (dropped cookies, console
        and script errors, failed navigations); empty under the http driver."""
        out: list[str] = []
        for s in [*self._closed, *self.sessions()]:
            out += [d for d in getattr(s, "diagnostics", []) if d not in out]
        return out

    @property
    def artifacts(self) -> list[str]:
        """Screenshots and traces of sessions already closed (the open ones add theirs when closed)."""
        return [a for s in self._closed for a in getattr(s, "artifacts", [])]

    def open_session(self) -> Any:
        """A second, concurrent session (its own cookies) next to the current one; switch with
        `ctx.use(session)`. Every session opened here is closed when the scenario ends."""
        if self._new_session is None:
            raise HarnessError("this context cannot open a new session")
        extra = self._new_session()
        self._extra.append(extra)
        return extra

    def use(self, session: Any) -> None:
        """Make `session` the one flows and observers act in."""
        self.session = session

    def sessions(self) -> list[Any]:
        """Every open session of this scenario (the current one first)."""
        out = [self.session]
        out += [s for s in [self._first, *self._extra] if s is not None and all(s is not o for o in out)]
        return out

    def restart(self) -> None:
        """Start over in a fresh session (new cookies), e.g. between the two variants of an XSW case."""
        if self._new_session is None:
            raise HarnessError("this context cannot open a new session")
        for s in self.sessions():
            self._closed.append(s)
            s.close()
        self._first, self._extra = None, []
        self.session = self._new_session()

    # --- users ----------------------------------------------------------------------------
    def new_user(self, **overrides: Any) -> Any:
        """A fresh, reproducible user with the profile's attributes (Faker, seeded per run)."""
        from mock_idp.users import generate_user

        data = self.target.testdata
        kw: dict[str, Any] = {"domain": data.email_domain}
        if self.profile.attributes.account_mapping and data.accounts:
            kw["accounts"] = [f"{data.accounts[0]}={data.account_role}"]
        if self.profile.attributes.tenant and data.tenants:
            kw["tenants"] = [data.tenants[0]]
        if self.profile.attributes.role and data.role:
            kw["role"] = data.role
        kw.update(overrides)
        for _ in range(50):  # Faker names repeat now and then: every user of a run is a new one
            user = generate_user(self.profile.name, seed=self.runtime.next_seed(), **kw)
            if self.runtime.claim_identity(self.email_of(user)):
                return user
        raise HarnessError("could not generate a fresh user (50 name collisions in a row)")

    def email_of(self, user: Any) -> str:
        values = user.attributes.get(self.profile.attributes.email) or []
        return values[0] if values else user.name_id

    # --- flows ----------------------------------------------------------------------------
    def sp_login(self, user: Any, faults: Sequence[Any] = (), *, tenant: str | None = None,
                 relay_state: str | None = None, post: bool = False, force_authn: bool = False,
                 **options: Any) -> PageResult:
        """SP-initiated login: start URL -> AuthnRequest to the IdP (Redirect, or HTTP-POST with
        `post=True`) -> Response -> ACS."""
        token = self.idp.plan_login(user, faults, **options)
        self.plan_tokens.append(token)
        self.session.set_idp_plan(self.runtime.idp_base_url, token)
        login = self.target.login
        tmpl = login.sp_initiated_post_url if post else login.sp_initiated_url
        if force_authn:  # the SP's login that sends ForceAuthn="true" (capability force_authn)
            tmpl = login.sp_initiated_force_authn_url
        if tenant is None:
            tenants = user.attributes.get(self.profile.attributes.tenant or "", [])
            tenant = tenants[0].split(",")[0] if tenants else ""
        values = {"email": self.email_of(user), "tenant": tenant,
                  "relay_state": relay_state or self.target.login.relay_state}
        if not tmpl and not post and login.form_url:
            fields = {k: str(fill_placeholders(v, values)) for k, v in login.form_fields.items()}
            return self.session.fill_form(self.target.url(login.form_url, **values), fields)
        if not tmpl:
            raise TargetError("target file has no login." + ("sp_initiated_post_url" if post else "sp_initiated_url"))
        return self.session.navigate(self.target.url(tmpl, **values))

    def idp_login(self, user: Any, faults: Sequence[Any] = (), *, relay_state: str = "", **options: Any) -> PageResult:
        """IdP-initiated (unsolicited) login to the SP's default ACS."""
        token = self.idp.plan_login(user, faults, **options)
        self.plan_tokens.append(token)
        self.session.set_idp_plan(self.runtime.idp_base_url, token)
        query = {"sp": self.runtime.sp_entity_id}
        if relay_state:
            query["RelayState"] = relay_state
        return self.session.navigate(f"{self.runtime.idp_base_url}/idp-initiated?{urlencode(query)}")

    # --- observers --------------------------------------------------------------------------
    def whoami_data(self) -> Any:
        """The whoami JSON for this session (None = nobody signed in)."""
        status, data = self.session.whoami(self.target.url(self.target.whoami.url))
        return data if status == 200 else None

    def whoami_name_id(self) -> str | None:
        """The NameID the SP shows for this session at the whoami JSON's `name_id_path` (None when
        the target file names no such path, or nothing is there)."""
        path = self.target.whoami.name_id_path
        if not path or self.target.whoami.css_selector or self.target.whoami.regex:
            return None
        data = self.whoami_data()
        value = None if data is None else json_path(data, path)
        return None if value in (None, "") else str(value)

    def whoami(self) -> str | None:
        """Who the SP says is signed in in this session, in the harness's terms (the user's email
        identity): None = nobody; UNKNOWN = a session whose identity the answer does not show.
        Read from the whoami JSON at `json_path`, or, when the target file gives `css_selector` /
        `regex`, from the text of the whoami page; then matched against what the IdP issued
        (`identity`: the NameID, e.g. a transient one, or an attribute)."""
        w = self.target.whoami
        if w.css_selector or w.regex:
            status, text = self.session.fetch(self.target.url(w.url))
            value = principal_from_page(text, css=w.css_selector, regex=w.regex) if status == 200 else None
            return None if value is None else self.canonical_identity(value)
        data = self.whoami_data()
        if data is None:
            return None
        value = json_path(data, w.json_path)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value in (None, "", [], {}):
            return UNKNOWN if shows_session(data, w.session_path or w.name_id_path) else None
        return self.canonical_identity(str(value))

    def canonical_identity(self, value: str) -> str:
        """The whoami value as the harness names users (their email identity): with `identity =
        "name_id"` (or an attribute name) a value the IdP issued in this run maps to the email of
        the user it was issued for; anything else (a forged victim, a stranger) stays as it is."""
        how = self.target.whoami.identity
        if not how or how == self.profile.attributes.email:
            return value
        for issued in reversed(self.idp.issued):
            if how == "name_id":
                hit = issued.name_id == value
            else:
                hit = value in (issued.attributes.get(how) or [])
            if hit:
                emails = issued.attributes.get(self.profile.attributes.email) or []
                return emails[0] if emails else (issued.name_id or value)
        return value

    def users(self) -> list[dict[str, Any]]:
        """The SP's user store, through the `list_users` hook."""
        data = self.runtime.call_hook("list_users")
        return list(data or [])

    def find_user(self, email: str) -> dict[str, Any] | None:
        for u in self.users():
            if str(u.get("email", "")).lower() == email.lower():
                return u
        return None

    # --- SP-wide changes, undone after the scenario ------------------------------------------
    def add_idp(self, idp_id: str, metadata_xml: str, *, check: bool = True) -> tuple[int, Any]:
        """Add another SAML configuration (IdP) at the SP through the `add_idp` hook; returns the
        hook's (status, answer). With `check` a refusal (4xx) is the target's error (a setup step
        that must succeed); without, it is returned as the SP's answer. When the target has the optional
        `delete_idp` hook, the engine removes the configuration again when the scenario ends, so a
        run leaves the SP's configurations as it found them. Never the run's own configuration
        (testdata.saml_config_id): replace that one and put it back yourself."""
        if idp_id == self.target.testdata.saml_config_id:
            raise HarnessError(f"add_idp({idp_id!r}) would replace the run's own IdP configuration")
        if check:
            status, data = 200, self.runtime.call_hook("add_idp", idp_id=idp_id, metadata_xml=metadata_xml)
        else:
            status, data = self.runtime.call_hook_status("add_idp", idp_id=idp_id, metadata_xml=metadata_xml)
        if status < 400 and self.runtime.has_hook("delete_idp"):
            self._undo.append(("delete_idp", {"idp_id": idp_id}))
        return status, data

    def undo(self) -> list[str]:
        """Call the undo hooks registered by this scenario, last first; returns what failed (one line
        each), never raises: a failed cleanup is a finding, not the scenario's verdict."""
        failed = []
        while self._undo:
            name, values = self._undo.pop()
            try:
                self.runtime.call_hook(name, **values)
            except (TargetError, HarnessError) as exc:
                failed.append(f"{name} {values}: {exc}")
        return failed

    def has(self, capability: str) -> bool:
        return self.runtime.capabilities().get(capability) is None

    def keep_evidence(self, hops: list[Hop], plan_tokens: list[str]) -> None:
        """Keep only these hops of the earlier (restarted) sessions and these IdP plans as the
        scenario's evidence: for scenarios that try many inputs (PROP-*) and report one of them.
        The current session's own hops stay."""
        self._old_hops = list(hops)
        self.plan_tokens = list(plan_tokens)

    def sent(self) -> list[dict[str, Any]]:
        """What the IdP answered this scenario's logins with: faults, user, Response XML, diff."""
        return [rec for token in self.plan_tokens for rec in self.idp.sent_records(token)]

    def observe(self, user: Any, *, intended: str | None = None, signed_as: str | None = None,
                store_check: bool = True, expect: Any = None) -> Observation:
        """The SP's state after the hops: who is signed in, compared with who was intended; and,
        when the target lets us look, whether the user store holds the user (JIT) or not.

        For a forged or wrapped message, `signed_as` is the identity the IdP genuinely signed (the
        attacker's own) and `intended` the one the message tries to get signed in (the victim; the
        same as `signed_as` for a wrapping with unchanged values)."""
        obs = Observation(signed_in=self.whoami(), intended=intended or self.email_of(user),
                          signed_as=signed_as)
        if store_check and self.has("user_inspection"):
            email = intended or self.email_of(user)
            record = self.find_user(email)
            if (expect or self.expected) is ACCEPT:
                obs.check("user provisioned just in time", record is not None,
                          "" if record else f"{email} is not in the SP's user store")
            elif signed_as is None or email != signed_as:
                obs.check("no account created", record is None,
                          f"{email} was created in the SP's user store" if record else "")
        return obs


_FLAGS = ("authenticated", "is_authenticated", "isAuthenticated", "signed_in", "signedIn", "logged_in",
          "loggedIn")
_NOT_A_SESSION = {"error", "errors", "message", "msg", "detail", "status", "code", "login_url", "loginUrl"}


def shows_session(data: Any, session_path: str | None = None) -> bool:
    """Does a 200 whoami answer show that someone is signed in, though nothing is at the identity
    path? `session_path` (or name_id_path) decides when given and filled; else an explicit flag
    (`authenticated`, `logged_in`, ...); else any non-empty value outside error-ish keys."""
    if session_path and json_path(data, session_path) not in (None, "", [], {}):
        return True
    if not isinstance(data, (dict, list)):
        return data not in (None, "", False, 0)
    if isinstance(data, dict):
        for flag in _FLAGS:
            if flag in data and isinstance(data[flag], bool):
                return data[flag]
        if session_path:
            return False
        return any(_non_empty(v) for k, v in data.items() if str(k) not in _NOT_A_SESSION)
    return any(_non_empty(v) for v in data)


def _non_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_non_empty(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_empty(v) for v in value)
    return value not in (None, "", False)


def principal_from_page(text: str, *, css: str | None, regex: str | None) -> str | None:
    """The signed-in principal shown on an HTML page: the text of the first element matching `css`
    (then `regex` applied to that text), or `regex` over the page's text; its first group if any."""
    import re

    from lxml import html as lxml_html

    try:
        doc = lxml_html.document_fromstring(text or "<html></html>")
        found = doc.cssselect(css) if css else [doc]
    except Exception:  # noqa: BLE001 - a garbage page shows nobody
        return None
    if not found:
        return None
    text = found[0].text_content()
    if not regex:
        value = " ".join(text.split())
        return value or None
    m = re.search(regex or "", text or "")
    if not m:
        return None
    value = (m.group(1) if m.groups() else m.group(0)).strip()
    return value or None
