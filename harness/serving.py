"""A real HTTP server on loopback: see `samlconf_common.serving` (shared by the mock IdP and the
reference SP)."""
from samlconf_common.serving import LoopbackServer, WSGIApp  # noqa: F401

__all__ = ["LoopbackServer", "WSGIApp"]
