"""The mock IdP's Flask app: /metadata, /sso, /login, /idp-initiated, /slo, and the pages a person uses."""
from __future__ import annotations

import html
import json
import secrets
import threading
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from . import faults as _faults
from .bindings import (
    BINDING_POST,
    BindingError,
    decode_post_request,
    decode_redirect_request,
    parse_authn_request,
    post_form_html,
)
from .builder import STATUS_NO_PASSIVE, STATUS_REQUEST_DENIED, STATUS_REQUESTER, STATUS_RESPONDER

STATUS_UNSUPPORTED_BINDING = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"
from .faults import FaultError
from .metadata import SPInfo
from .users import NAMEID_FORMATS, User

if TYPE_CHECKING:  # pragma: no cover
    from .idp import MockIdP

__all__ = ["create_app", "error_page"]

_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "fieldset{margin:1rem 0}label{display:block;margin:.2rem 0}textarea{width:100%;font-family:monospace}"
    ".error{color:#a00;font-weight:bold}code{background:#eee;padding:0 .2rem}"
)
MAX_PENDING = 1000


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _page(title: str, body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    doc = (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>\n"
    )
    r = Response(doc, status=status, mimetype="text/html")
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r


def error_page(message: str, status: int = 400, extra_html: str = "") -> Response:
    """A page with exactly one line naming what is wrong (also in the X-Samlconf-Error header)."""
    line = " ".join(str(message).split())
    return _page(
        "samlconf mock IdP: error",
        f'<p class="error" id="error">{_e(line)}</p>{extra_html}',
        status,
        {"X-Samlconf-Error": line.encode("ascii", "replace").decode()[:500]},
    )


def _attrs_to_text(user: User) -> str:
    return "\n".join(f"{k}: {v}" for k, vals in user.attributes.items() for v in vals) + (
        "\n" if user.attributes else ""
    )


def _attrs_from_text(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if ":" not in line:
            raise ValueError(f"attributes line {n}: expected 'Name: value'")
        k, v = line.split(":", 1)
        k = k.strip()
        if not k:
            raise ValueError(f"attributes line {n}: empty attribute name")
        out.setdefault(k, []).append(v.strip())
    return out


def create_app(idp: "MockIdP") -> Flask:
    from .idp import PLAN_COOKIE, SESSION_COOKIE, ResponseError, UnknownSP

    app = Flask("samlconf_mock_idp")
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SECRET_KEY=secrets.token_hex(32),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    pending: dict[str, dict[str, Any]] = {}
    pending_lock = threading.Lock()

    def add_pending(entry: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(18)
        with pending_lock:
            pending[token] = entry
            while len(pending) > MAX_PENDING:
                pending.pop(next(iter(pending)))
        return token

    def take_pending(token: str) -> dict[str, Any] | None:
        with pending_lock:
            return pending.pop(token, None)

    def answer(issued: Any) -> Response:
        return Response(post_form_html(issued.acs_url, issued.saml_response_b64, issued.relay_state), mimetype="text/html")

    def plan_for(sp: SPInfo):  # type: ignore[no-untyped-def]
        plan = idp.get_plan(request.cookies.get(PLAN_COOKIE))
        if plan is not None and plan.sp_entity_id not in (None, sp.entity_id):
            return None
        return plan

    def issue_planned(
        plan: Any, sp: SPInfo, acs: str, irt: str | None, relay: str | None, nameid_format: str | None = None,
        requested_classes: Any = (),
    ) -> Response:
        plan.uses += 1
        # a plan may return another RelayState than the one the SP sent (RLY-04: tampering)
        relay = plan.options.get("returned_relay_state", relay)
        user = idp.apply_name_id_policy(plan.user, nameid_format, sp.entity_id)
        options = dict(plan.options)
        other = options.pop("answer_acs_index", None)  # DST-10: answer at another ACS of the SP
        if requested_classes:  # the authentication the request asked for (a fault may still change it)
            options.setdefault("authn_context", requested_classes[0])
        if other is not None:
            ep = sp.acs_by_index(int(other))
            acs = ep.location if ep is not None else acs
        issued = idp.issue_response(
            sp.entity_id, user, in_response_to=irt, acs_url=acs, faults=plan.faults, relay_state=relay, **options
        )
        plan.note_issued(issued.response_id)
        idp.record({"event": "response", "sp": sp.entity_id, "response_id": issued.response_id, "faults": list(issued.faults)})
        return answer(issued)

    @app.errorhandler(413)
    def too_large(_e: Any) -> Response:
        return error_page("request body too large (limit 2 MiB)", 413)

    @app.errorhandler(Exception)
    def crashed(e: Exception) -> Response:  # never a bare 500 page with a traceback
        from werkzeug.exceptions import HTTPException

        if isinstance(e, HTTPException):
            return error_page(f"{e.code} {e.name}", e.code or 500)
        app.logger.exception("mock IdP error")
        return error_page(f"mock IdP internal error: {type(e).__name__}: {e}", 500)

    def recent_sign_ins() -> str:
        """The latest Responses that signed someone in, each with an IdP-initiated logout button."""
        from .slo import asserted_name

        rows = []
        for issued in reversed(idp.recent_responses(10)):
            try:
                name = asserted_name(issued.xml)
            except Exception:  # noqa: BLE001 - a faulted Response may not parse: no button for it
                name = None
            if name is None or not issued.sp_entity_id:
                continue
            try:
                has_slo = idp.sp(issued.sp_entity_id).slo_endpoint() is not None
            except UnknownSP:
                continue
            button = (f'<form method="get" action="logout" class="slo"><input type="hidden" name="response" '
                      f'value="{_e(issued.response_id)}"><button type="submit">Sign out at the SP</button></form>'
                      if has_slo else "<small>(the SP publishes no SingleLogoutService)</small>")
            rows.append(f"<li><code>{_e(name.value)}</code> at <code>{_e(issued.sp_entity_id)}</code> {button}</li>")
        return "<ul>" + "".join(rows) + "</ul>" if rows else "<p>(none yet)</p>"

    @app.get("/logout")
    def start_logout() -> Response:
        """IdP-initiated single logout of one earlier sign-in: a LogoutRequest naming the principal
        exactly as asserted, sent through the person's browser to the SP's SLO endpoint."""
        from .slo import asserted_name

        rid = request.args.get("response", "")
        issued = next((r for r in idp.recent_responses() if r.response_id == rid), None)
        name = asserted_name(issued.xml) if issued is not None else None
        if issued is None or name is None or not issued.sp_entity_id:
            return error_page("no such sign-in (it may be too old): sign in again first")
        try:
            msg = idp.logout_request(issued.sp_entity_id, name.value, session_index=name.session_index,
                                     name_id_format=name.format, name_qualifier=name.name_qualifier,
                                     sp_name_qualifier=name.sp_name_qualifier)
        except ResponseError as e:
            return error_page(str(e))
        idp.record({"event": "logout-request", "sp": issued.sp_entity_id, "id": msg.message_id})
        if msg.fields:
            return Response(msg.form_html(), mimetype="text/html")
        return Response("", status=302, headers={"Location": msg.url})

    @app.get("/")
    def index() -> Response:
        sps = "".join(f"<li><code>{_e(s.entity_id)}</code></li>" for s in idp.sps) or "<li>(none registered)</li>"
        body = (
            f"<p>Entity ID <code>{_e(idp.entity_id)}</code>, attribute profile <code>{_e(idp.profile)}</code>.</p>"
            '<ul><li><a href="metadata">IdP metadata</a></li><li><a href="idp-initiated">IdP-initiated login</a></li>'
            '<li><a href="faults">fault list</a></li></ul>'
            f"<h2>Known SPs</h2><ul>{sps}</ul>"
            f"<h2>Recent sign-ins</h2>{recent_sign_ins()}"
            '<h2>Trust an SP</h2><form method="post" action="sps" id="add-sp">'
            '<label>SP metadata URL <input name="url" size="60"></label>'
            '<label>or paste its metadata XML<textarea name="metadata" rows="6"></textarea></label>'
            '<button type="submit">Add SP</button></form>'
        )
        return _page("samlconf mock IdP", body)

    @app.post("/sps")
    def add_sp() -> Response:
        """Register an SP at run time: form fields `url` or `metadata`, or a raw XML body. Only from
        this IdP's own page or a non-browser client: a cross-site form post (another site the person
        has open) is refused, so no web page can make the IdP trust an SP."""
        from .metadata import MetadataError

        foreign = _foreign_origin(request)
        if foreign:
            return error_page(f"refused: SP registration from another origin ({foreign}); "
                              "use the form on this IdP's page", 403)
        try:
            if request.mimetype in ("application/samlmetadata+xml", "application/xml", "text/xml"):
                sp = idp.register_sp(request.get_data())
            elif request.form.get("url"):
                sp = idp.register_sp_url(request.form["url"].strip())
            elif request.form.get("metadata"):
                sp = idp.register_sp(request.form["metadata"].encode("utf-8"))
            else:
                return error_page("give SP metadata: a url field, a metadata field, or an XML body")
        except MetadataError as e:
            return error_page(str(e))
        return _page("samlconf mock IdP: SP added",
                     f'<p id="sp-added">Trusting <code>{_e(sp.entity_id)}</code>, ACS '
                     f'<code>{_e(sp.default_acs().location)}</code>.</p><p><a href="./">back</a></p>')

    @app.get("/metadata")
    def metadata() -> Response:
        return Response(idp.metadata_xml(), mimetype="application/samlmetadata+xml")

    @app.get("/faults")
    def faults_json() -> Response:
        return Response(json.dumps([f.to_dict() for f in _faults.all_faults()], indent=2), mimetype="application/json")

    @app.route("/sso", methods=["GET", "POST"])
    def sso() -> Response:
        src = request.args if request.method == "GET" else request.form
        saml_request = src.get("SAMLRequest")
        relay = src.get("RelayState")
        if not saml_request:
            return error_page("missing SAMLRequest parameter")
        try:
            if request.method == "GET":
                xml = decode_redirect_request(saml_request)
            else:
                xml = decode_post_request(saml_request)
            info = parse_authn_request(xml)
        except BindingError as e:
            idp.record({"event": "bad-request", "error": str(e)})
            return error_page(str(e))
        idp.record({"event": "authn-request", "id": info.id, "issuer": info.issuer, "binding": request.method,
                    # the posted message as received (AREQ-10 checks its signature); capped
                    **({"saml_request": saml_request[:65536]} if request.method == "POST" else {})})
        try:
            sp = idp.sp(info.issuer)
        except UnknownSP:
            line = f"AuthnRequest from unknown SP {info.issuer!r}: register its metadata with the IdP"
            extra = ""
            if info.acs_url:
                # A SAML error Response for the requester, but never sent on its own to a URL nobody
                # registered: the person may return it by pressing the button.
                issued = idp.issue_status(
                    None, status_code=STATUS_REQUESTER, status_subcode=STATUS_REQUEST_DENIED,
                    status_message=line, in_response_to=info.id, acs_url=info.acs_url, relay_state=relay,
                )
                rs = f'<input type="hidden" name="RelayState" value="{_e(relay)}">' if relay is not None else ""
                extra = (
                    f'<form method="post" action="{_e(issued.acs_url)}" id="saml-error">'
                    f'<input type="hidden" name="SAMLResponse" value="{_e(issued.saml_response_b64)}">{rs}'
                    f'<button type="submit">Return this error to {_e(issued.acs_url)}</button></form>'
                )
            return error_page(line, extra_html=extra)
        from .requests import check_request_signature

        sig_error = check_request_signature(idp, sp, request, xml, info)
        if sig_error:
            idp.record({"event": "bad-signature", "id": info.id, "error": sig_error})
            issued = idp.issue_status(
                sp.entity_id, status_code=STATUS_REQUESTER, status_subcode=STATUS_REQUEST_DENIED,
                status_message=sig_error, in_response_to=info.id, relay_state=relay,
            )
            return answer(issued)
        # Which ACS: the request's URL (must be registered), or index, or the default.
        if info.acs_url:
            ep = sp.acs_by_url(info.acs_url)
            if ep is None:
                issued = idp.issue_status(
                    sp.entity_id, status_code=STATUS_REQUESTER, status_subcode=STATUS_REQUEST_DENIED,
                    status_message=f"AssertionConsumerServiceURL {info.acs_url} is not registered for this SP",
                    in_response_to=info.id, relay_state=relay,
                )
                return answer(issued)
        elif info.acs_index is not None:
            ep = sp.acs_by_index(info.acs_index)
            if ep is None:
                issued = idp.issue_status(
                    sp.entity_id, status_code=STATUS_REQUESTER, status_subcode=STATUS_REQUEST_DENIED,
                    status_message=f"AssertionConsumerServiceIndex {info.acs_index} is not registered for this SP",
                    in_response_to=info.id, relay_state=relay,
                )
                return answer(issued)
        else:
            ep = sp.default_acs()
        if info.protocol_binding and info.protocol_binding != BINDING_POST:
            issued = idp.issue_status(
                sp.entity_id, status_code=STATUS_REQUESTER, status_subcode=STATUS_UNSUPPORTED_BINDING,
                status_message=f"ProtocolBinding {info.protocol_binding} is not supported; the mock IdP answers by HTTP-POST",
                in_response_to=info.id, acs_url=sp.default_acs().location, relay_state=relay,
            )
            return answer(issued)
        plan = plan_for(sp)
        if plan is not None:
            # The plan stands for an IdP session; ForceAuthn is met by "re-authenticating" the
            # planned user at once (AuthnInstant = now).
            return issue_planned(plan, sp, ep.location, info.id, relay, info.name_id_policy_format,
                                 info.requested_authn_context)
        if info.is_passive:
            issued = idp.issue_status(
                sp.entity_id, status_code=STATUS_RESPONDER, status_subcode=STATUS_NO_PASSIVE,
                status_message="IsPassive was requested and there is no IdP session",
                in_response_to=info.id, acs_url=ep.location, relay_state=relay,
            )
            return answer(issued)
        token = add_pending(
            {"sp": sp.entity_id, "acs": ep.location, "irt": info.id, "relay": relay, "nameid_format": info.name_id_policy_format}
        )
        return login_page(token, sp, info.name_id_policy_format)

    def login_page(token: str, sp: SPInfo, nameid_format: str | None = None) -> Response:
        users_html = []
        for i, u in enumerate(idp.users):
            users_html.append(
                f'<label><input type="radio" name="user" value="{i}" data-attrs="{_e(_attrs_to_text(u))}"'
                f' data-nameid="{_e(u.name_id)}"{" checked" if i == 0 else ""}> {_e(u.label or u.name_id)}'
                f" (<code>{_e(u.name_id)}</code>)</label>"
            )
        first = idp.users[0] if idp.users else None
        asked = f" ({_e(nameid_format)})" if nameid_format else ""
        fmt_opts = f'<option value="" selected>as the SP asks{asked}, else the user\'s own</option>' + "".join(
            f'<option value="{_e(v)}">{_e(k)}</option>' for k, v in NAMEID_FORMATS.items()
        )
        fault_boxes = "".join(
            f'<label><input type="checkbox" name="fault" value="{_e(f.id)}"> <code>{_e(f.id)}</code> {_e(f.description)}</label>'
            for f in _faults.all_faults()
        )
        body = f"""
<p>Sign in to <code>{_e(sp.entity_id)}</code> as:</p>
<form method="post" action="login" id="login">
<input type="hidden" name="pending" value="{_e(token)}">
<fieldset><legend>User</legend>{''.join(users_html)}</fieldset>
<fieldset><legend>Edit (optional)</legend>
<label>NameID <input name="name_id" id="name_id" size="50" value="{_e(first.name_id if first else '')}"></label>
<label>NameID format <select name="name_id_format">{fmt_opts}</select></label>
<label>Attributes, one <code>Name: value</code> per line (repeat a name for several values)
<textarea name="attributes" id="attributes" rows="8">{_e(_attrs_to_text(first) if first else '')}</textarea></label>
</fieldset>
<button type="submit" id="submit">Sign in</button>
<fieldset><legend>Faults</legend>
<label>Parameterised faults, comma-separated (e.g. <code>clock-skew(seconds=-600)</code>)
<input name="fault_expr" size="60"></label>
<details><summary>All faults</summary>{fault_boxes}</details></fieldset>
<button type="submit" id="submit-bottom">Sign in</button>
</form>
<script>
for (const r of document.querySelectorAll('input[name=user]')) r.addEventListener('change', () => {{
  document.getElementById('attributes').value = r.dataset.attrs;
  document.getElementById('name_id').value = r.dataset.nameid; }});
</script>"""
        return _page("samlconf mock IdP: sign in", body)

    def _user_from_form(form: Any) -> User:
        try:
            base = idp.users[int(form.get("user", "0"))]
        except (ValueError, IndexError):
            raise ValueError("no such user") from None
        user = User(base.name_id, base.name_id_format, {k: list(v) for k, v in base.attributes.items()}, base.label)
        if form.get("name_id"):
            user.name_id = form["name_id"].strip()
        if form.get("name_id_format"):
            user.name_id_format = NAMEID_FORMATS.get(form["name_id_format"], form["name_id_format"])
        if form.get("attributes") is not None and form.get("attributes").strip():
            user.attributes = _attrs_from_text(form["attributes"])
        return user

    def _faults_from_form(form: Any) -> list[Any]:
        out: list[Any] = list(form.getlist("fault"))
        expr = form.get("fault_expr", "") or ""
        depth, cur = 0, ""
        for ch in expr + ",":
            if ch == "," and depth == 0:
                if cur.strip():
                    out.append(cur.strip())
                cur = ""
                continue
            depth += ch == "("
            depth -= ch == ")"
            cur += ch
        return _faults.resolve(out)

    @app.post("/login")
    def login() -> Response:
        entry = take_pending(request.form.get("pending", ""))
        if entry is None:
            return error_page("login form expired or unknown; start the login again at the SP")
        try:
            user = _user_from_form(request.form)
            flist = _faults_from_form(request.form)
        except (ValueError, FaultError) as e:
            return error_page(str(e))
        if not request.form.get("name_id_format"):
            user = idp.apply_name_id_policy(user, entry.get("nameid_format"), entry["sp"])
        issued = idp.issue_response(
            entry["sp"], user, in_response_to=entry["irt"], acs_url=entry["acs"], faults=flist, relay_state=entry["relay"]
        )
        idp.record({"event": "response", "sp": entry["sp"], "response_id": issued.response_id, "faults": list(issued.faults)})
        return answer(issued)

    @app.route("/idp-initiated", methods=["GET", "POST"])
    def idp_initiated() -> Response:
        src = request.values
        sp_id = src.get("sp")
        relay = src.get("RelayState")
        if not sp_id:
            items = "".join(
                f'<li><a href="idp-initiated?sp={_e(_q(s.entity_id))}">{_e(s.entity_id)}</a> '
                f"(ACS <code>{_e(s.default_acs().location)}</code>)</li>"
                for s in idp.sps
            ) or "<li>(no SP registered)</li>"
            return _page("samlconf mock IdP: IdP-initiated login", f"<p>Pick the SP to sign in to:</p><ul>{items}</ul>")
        try:
            sp = idp.sp(sp_id)
        except UnknownSP as e:
            return error_page(str(e))
        acs = sp.default_acs().location
        if src.get("acs"):
            ep = sp.acs_by_url(src["acs"])
            if ep is None:
                return error_page(f"ACS {src['acs']} is not registered for SP {sp.entity_id}")
            acs = ep.location
        elif src.get("acs_index"):
            try:
                ep = sp.acs_by_index(int(src["acs_index"]))
            except ValueError:
                ep = None
            if ep is None:
                return error_page(f"ACS index {src['acs_index']} is not registered for SP {sp.entity_id}")
            acs = ep.location
        plan = plan_for(sp)
        if plan is not None:
            return issue_planned(plan, sp, acs, None, relay)
        token = add_pending({"sp": sp.entity_id, "acs": acs, "irt": None, "relay": relay, "nameid_format": None})
        return login_page(token, sp)

    @app.route("/oob/<token>/<kind>", methods=["GET", "POST"])
    def oob(token: str, kind: str) -> Response:
        idp.record_oob(token, kind, {"method": request.method, "remote": request.remote_addr, "query": request.query_string.decode("latin-1")})
        return Response("", status=200, mimetype="text/plain")

    @app.route("/slo", methods=["GET", "POST"])
    def slo() -> Response:
        from .slo import handle_slo

        return handle_slo(idp, request)

    return app


def _foreign_origin(req: Any) -> str | None:
    """The foreign origin of a browser request (Sec-Fetch-Site, Origin or Referer naming another
    origin than the request's own host), or None for same-origin and non-browser clients."""
    from urllib.parse import urlsplit

    own = req.host_url.rstrip("/").lower()
    if req.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        return req.headers.get("Origin") or req.headers.get("Sec-Fetch-Site")
    for header in ("Origin", "Referer"):
        value = req.headers.get(header)
        if not value:
            continue
        if value == "null":
            return "null"
        parts = urlsplit(value)
        if f"{parts.scheme}://{parts.netloc}".lower() != own:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def _q(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")
