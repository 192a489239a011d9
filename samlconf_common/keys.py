"""IdP keys and self-signed certificates.

`load_or_create` caches an RSA-2048 key and a self-signed certificate per name under
`<cache_dir>/keys/<slug>/` (key file mode 0600), so an IdP's identity is stable across runs.
`ephemeral` makes throw-away pairs (attacker keys, expired or not-yet-valid certificates).
"""
from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = ["KeyPair", "KeyTrustError", "check_private", "load_or_create", "ephemeral", "default_home", "slug"]


@dataclass(frozen=True)
class KeyPair:
    key_pem: bytes
    cert_pem: bytes

    @cached_property
    def cert_b64(self) -> str:
        """The certificate as base64 DER, without PEM headers (for ds:X509Certificate)."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def public_key_pem(self) -> bytes:
        return self.certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def fingerprint_sha256(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def default_home() -> Path:
    env = os.environ.get("SAMLCONF_HOME")
    return Path(env) if env else Path.home() / ".cache" / "samlconf"


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s[:100] or "default"


def _make(
    name: str,
    *,
    days_valid: int = 3650,
    not_before_offset: timedelta = timedelta(0),
    key_size: int = 2048,
    key_type: str = "rsa",
    subject: x509.Name | None = None,
    serial: int | None = None,
) -> KeyPair:
    if key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    elif key_type == "dsa":  # DSA-1024 (q of 160 bits): the key size XML-DSig's dsa-sha1 is defined for
        from cryptography.hazmat.primitives.asymmetric import dsa

        key = dsa.generate_private_key(key_size=1024)
    else:
        raise ValueError(f"key_type must be 'rsa', 'ec' or 'dsa', not {key_type!r}")
    cn = name[:64] or "samlconf"
    subj = subject or x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "samlconf mock IdP"),
        ]
    )
    # not_before_offset shifts the whole validity window: a negative offset with a short
    # days_valid gives an expired cert, a positive offset a not-yet-valid one.
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5) + not_before_offset
    cert = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(subj)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days_valid))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
    )


def ephemeral(name: str = "samlconf-ephemeral", **kw: object) -> KeyPair:
    """A fresh key and self-signed cert, never cached (attacker keys, expired certs, ...).

    Keywords: days_valid, not_before_offset (shifts the validity window), key_size (RSA bits,
    e.g. 1024 for a weak key), key_type ("rsa", "ec" for P-256, "dsa" for DSA-1024), subject, serial.
    """
    return _make(name, **kw)  # type: ignore[arg-type]


class KeyTrustError(ValueError):
    """A cached key that someone else could have replaced: owned by another user or writable by others."""


def check_private(path: Path) -> None:
    """Refuse a cached key file or its folder that another user owns or may write (they could have
    swapped in their own key); a folder that others may merely read is not a problem."""
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise KeyTrustError(f"{path}: owned by uid {st.st_uid}, not by this user; refusing to use the key "
                            "(delete the folder to make a new one)")
    if st.st_mode & 0o022:
        raise KeyTrustError(f"{path}: writable by other users (mode {st.st_mode & 0o777:o}); refusing to use "
                            "the key (chmod go-w it, or delete the folder to make a new one)")


def load_or_create(
    name: str,
    cache_dir: Path | None = None,
    *,
    days_valid: int = 3650,
    not_before_offset: timedelta = timedelta(0),
) -> KeyPair:
    """Load the cached pair for `name`, or make and cache one (key file mode 0600)."""
    base = Path(cache_dir) if cache_dir is not None else default_home()
    d = base / "keys" / slug(name)
    key_path, cert_path = d / "key.pem", d / "cert.pem"
    if key_path.is_file() and cert_path.is_file():
        for path in (d, key_path, cert_path):
            check_private(path)
        return KeyPair(key_pem=key_path.read_bytes(), cert_pem=cert_path.read_bytes())
    pair = _make(name, days_valid=days_valid, not_before_offset=not_before_offset)
    d.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Write both files into a private temporary directory, then rename the directory into place:
    # atomic, so a concurrent creator either wins (we load its pair) or loses.
    tmp = d.parent / f".{d.name}.{os.getpid()}.{os.urandom(4).hex()}"
    tmp.mkdir(mode=0o700)
    fd = os.open(tmp / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pair.key_pem)
    (tmp / "cert.pem").write_bytes(pair.cert_pem)
    try:
        os.rename(tmp, d)
    except OSError:
        for child in tmp.iterdir():
            child.unlink()
        tmp.rmdir()
        return KeyPair(key_pem=key_path.read_bytes(), cert_pem=cert_path.read_bytes())
    return pair
