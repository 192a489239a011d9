"""IdP keys and certificates: see `samlconf_common.keys` (shared with the reference SP)."""
from samlconf_common.keys import (  # noqa: F401 - the mock IdP's historical import path
    KeyPair,
    KeyTrustError,
    check_private,
    default_home,
    ephemeral,
    load_or_create,
    slug,
)

__all__ = ["KeyPair", "KeyTrustError", "check_private", "load_or_create", "ephemeral", "default_home", "slug"]
