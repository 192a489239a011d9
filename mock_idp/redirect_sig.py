"""HTTP-Redirect binding signatures (SAML Bindings 3.4.4.1): sign and verify the query string."""
from __future__ import annotations

import base64
from urllib.parse import quote_plus, unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from .keys import KeyPair
from .signing import SIG_URIS

__all__ = ["sign_query", "verify_query", "raw_query_params", "HASHES"]

HASHES = {  # RSA only on the Redirect binding

    SIG_URIS["rsa-sha1"]: hashes.SHA1,
    SIG_URIS["rsa-sha256"]: hashes.SHA256,
    SIG_URIS["rsa-sha384"]: hashes.SHA384,
    SIG_URIS["rsa-sha512"]: hashes.SHA512,
}


def sign_query(
    param: str,
    encoded_message: str,
    relay_state: str | None,
    key: KeyPair,
    algorithm: str = "rsa-sha256",
    *,
    signed_order: str = "standard",
    relay_state_sent: str | None = None,
) -> str:
    """The query string ``SAMLRequest=..&RelayState=..&SigAlg=..&Signature=..`` (values URL-encoded).

    Faults: signed_order="swapped" signs ``SigAlg=..&RelayState=..&SAMLRequest=..`` (the wrong order)
    while sending the standard one; relay_state_sent sends another RelayState than the signed one.
    """
    sig_alg = SIG_URIS[algorithm]
    if sig_alg not in HASHES:
        raise ValueError(f"Redirect-binding signing supports RSA algorithms only, not {algorithm}")
    parts = [f"{param}={quote_plus(encoded_message)}"]
    if relay_state is not None:
        parts.append(f"RelayState={quote_plus(relay_state)}")
    parts.append(f"SigAlg={quote_plus(sig_alg)}")
    to_sign = list(reversed(parts)) if signed_order == "swapped" else parts
    signed = "&".join(to_sign).encode("ascii")
    pk = serialization.load_pem_private_key(key.key_pem, password=None)
    sig = pk.sign(signed, padding.PKCS1v15(), HASHES[sig_alg]())  # type: ignore[union-attr,call-arg]
    if relay_state_sent is not None:
        parts = [p if not p.startswith("RelayState=") else f"RelayState={quote_plus(relay_state_sent)}" for p in parts]
    return "&".join(parts) + "&Signature=" + quote_plus(base64.b64encode(sig).decode())


def raw_query_params(query_string: bytes | str) -> dict[str, str]:
    """First occurrence of each parameter, still URL-encoded (the signature covers the encoded form)."""
    qs = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    out: dict[str, str] = {}
    for part in qs.split("&"):
        if "=" in part:
            k, v = part.split("=", 1)
            out.setdefault(unquote_plus(k), v)
    return out


def verify_query(query_string: bytes | str, certs_b64: list[str], param: str = "SAMLRequest") -> str | None:
    """None when the Redirect signature verifies with one of `certs_b64`, else a one-line reason."""
    raw = raw_query_params(query_string)
    if "Signature" not in raw or "SigAlg" not in raw:
        return "the message is not signed (no Signature/SigAlg query parameters)"
    sig_alg = unquote_plus(raw["SigAlg"])
    h = HASHES.get(sig_alg)
    if h is None:
        return f"unsupported SigAlg {sig_alg}"
    parts = [f"{param}={raw.get(param, '')}"]
    if "RelayState" in raw:
        parts.append(f"RelayState={raw['RelayState']}")
    parts.append(f"SigAlg={raw['SigAlg']}")
    signed = "&".join(parts).encode("latin-1")
    try:
        sig = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
    except ValueError:
        return "the Signature query parameter is not base64"
    for c in certs_b64:
        pub = x509.load_der_x509_certificate(base64.b64decode(c)).public_key()
        try:
            pub.verify(sig, signed, padding.PKCS1v15(), h())  # type: ignore[union-attr,call-arg]
            return None
        except (InvalidSignature, TypeError, ValueError):
            continue
    return "the Redirect-binding signature does not verify with the SP's signing certificate"
