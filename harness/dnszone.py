"""A tiny authoritative TXT zone on loopback (dnslib), for domain-verification scenarios.

The run starts one for the embedded reference SP (its `dns_resolver`); scenarios publish and
withdraw TXT records with `set_txt`. It answers TXT queries only, from memory; anything else gets
an empty answer.
"""
from __future__ import annotations

import threading
from typing import Any


class DnsZone:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._records: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._server: Any = None

    def start(self) -> "DnsZone":
        from dnslib import QTYPE, RR, TXT
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        zone = self

        class _Resolver(BaseResolver):  # type: ignore[misc]
            def resolve(self, request: Any, handler: Any) -> Any:
                reply = request.reply()
                name = str(request.q.qname).rstrip(".").lower()
                if request.q.qtype == QTYPE.TXT:
                    for value in zone.txt(name):
                        reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
                return reply

        self._server = DNSServer(_Resolver(), address=self.host, port=0,
                                 logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data"))
        self._server.start_thread()
        return self

    @property
    def address(self) -> str:
        """host:port, as the reference SP's `dns_resolver` takes it."""
        return f"{self.host}:{self._server.server.server_address[1]}"

    def txt(self, name: str) -> list[str]:
        with self._lock:
            return list(self._records.get(name.rstrip(".").lower(), []))

    def set_txt(self, name: str, values: list[str]) -> None:
        with self._lock:
            self._records[name.rstrip(".").lower()] = list(values)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
