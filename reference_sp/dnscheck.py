"""Domain verification: look up TXT records with dnspython, at a configurable resolver."""
from __future__ import annotations

import dns.resolver


def txt_records(domain: str, resolver: str | None, timeout: float = 2.0) -> list[str]:
    """The TXT strings of `domain`. `resolver` is "host" or "host:port"; None = system resolver."""
    if resolver:
        host, _, port = resolver.rpartition(":") if resolver.count(":") == 1 else (resolver, "", "")
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [host or resolver]
        r.port = int(port) if port else 53
    else:
        r = dns.resolver.Resolver()
    r.lifetime = timeout
    r.timeout = timeout
    ans = r.resolve(domain.rstrip(".") + ".", "TXT", tcp=False)
    out: list[str] = []
    for rr in ans:
        out.append(b"".join(rr.strings).decode("utf-8", "replace"))
    return out
