"""samlconf's mock SAML 2.0 Identity Provider: keys, users, builder, signing, bindings, faults, Flask app."""
from __future__ import annotations

from .bindings import AuthnRequestInfo, BindingError, parse_authn_request, post_form_html
from .builder import ResponseSpec, build_response
from .idp import PLAN_COOKIE, IssuedResponse, MockIdP, UnknownSP
from .keys import KeyPair, ephemeral, load_or_create
from .metadata import SPInfo
from .signing import sign, sign_response
from .users import User, generate_user, load_users

__all__ = [
    "AuthnRequestInfo",
    "BindingError",
    "IssuedResponse",
    "KeyPair",
    "MockIdP",
    "PLAN_COOKIE",
    "ResponseSpec",
    "SPInfo",
    "UnknownSP",
    "User",
    "build_response",
    "ephemeral",
    "generate_user",
    "load_or_create",
    "load_users",
    "parse_authn_request",
    "post_form_html",
    "sign",
    "sign_response",
]
