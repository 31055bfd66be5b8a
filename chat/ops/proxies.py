"""Which reverse proxies are believed: ``trusted_proxies`` CIDRs.

``X-Forwarded-For``/``-Proto``/``-Host`` are honoured only on connections whose peer address
is in one of these networks; from anyone else they are ignored (a client cannot claim to be
loopback, or another host, by sending them).
"""
from __future__ import annotations

import ipaddress
from typing import List, Mapping, Optional, Sequence, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _ip(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


class ProxyRules:
    """The trusted networks, and how forwarded headers are read through them."""

    def __init__(self, cidrs: Sequence[str]) -> None:
        self.networks: List[Network] = [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip()]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusted(self, address: str) -> bool:
        """True when ``address`` is one of the trusted proxies."""
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self.networks)

    def client_ip(self, peer: str, forwarded_for: str) -> str:
        """The client address: X-Forwarded-For read from the right, skipping trusted proxies."""
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        client = peer
        for hop in reversed(hops):
            if _ip(hop) is None:
                break  # garbage: believe nothing further left
            client = hop
            if not self.trusted(hop):
                break
        return client

    def forwarded(self, peer: str, headers: Mapping[str, str]) -> Optional[dict]:
        """``{"remote_ip", "protocol", "host"}`` from a trusted peer's headers (None: not trusted)."""
        if not self.trusted(peer):
            return None
        result = {"remote_ip": self.client_ip(peer, headers.get("X-Forwarded-For", ""))}
        proto = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            result["protocol"] = proto
        host = headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if host:
            result["host"] = host
        return result
