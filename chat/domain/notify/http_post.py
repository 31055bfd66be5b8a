"""One HTTP(S) POST on the event loop (asyncio streams: nothing blocks, nothing imports the
web tier), bounded in time and in what it reads back.

The whole exchange (connect, TLS, send, the status line and headers) must finish within
``timeout`` seconds.
The host's address is resolved here and checked (unless ``allow_private``: not this machine nor a
private network, :func:`chat.rules.notify_input.blocked_address`), and the connection goes to that
checked address, so a name that resolves to a private address (or is rebound to one) is refused.
The answer's body is not read. Every failure is a :class:`PostResult` with ``status`` 0 and a
short reason, never an exception.
"""
from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import ssl
from typing import Dict, Optional
from urllib.parse import urlsplit

from chat.rules.notify_input import blocked_address

MAX_HEAD = 32 * 1024


@dataclasses.dataclass(frozen=True)
class PostResult:
    status: int  # the HTTP status, 0 when there was no answer
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def post(url: str, headers: Dict[str, str], body: bytes, timeout: float,
               context: Optional[ssl.SSLContext] = None, allow_private: bool = True) -> PostResult:
    """POST ``body`` to ``url`` (``Connection: close``)."""
    try:
        async with asyncio.timeout(timeout):  # (wait_for of 3.11 may swallow a cancellation)
            return await _post(url, headers, body, context, allow_private)
    except TimeoutError:
        return PostResult(0, "timed out after %gs" % timeout)
    except (OSError, ValueError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        return PostResult(0, "%s: %s" % (type(exc).__name__, str(exc)[:200]))


async def _resolve(host: str, port: int, allow_private: bool) -> Optional[str]:
    """The address to connect to: the first the name resolves to, None when that one is refused."""
    infos = await asyncio.get_running_loop().getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError("%s does not resolve" % host)
    address = str(infos[0][4][0])
    if not allow_private and blocked_address(ipaddress.ip_address(address.split("%", 1)[0])):
        return None
    return address


async def _post(url: str, headers: Dict[str, str], body: bytes, context: Optional[ssl.SSLContext],
                allow_private: bool) -> PostResult:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    if scheme not in ("http", "https") or not host:
        return PostResult(0, "not an http(s) URL")
    tls = (context or ssl.create_default_context()) if scheme == "https" else None
    address = await _resolve(host, port, allow_private)
    if address is None:
        return PostResult(0, "refused: %s resolves to this server or a private network" % host)
    reader, writer = await asyncio.open_connection(address, port, ssl=tls, server_hostname=host if tls else None,
                                                   limit=MAX_HEAD)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        host_header = host if parts.port is None else "%s:%d" % (host, port)
        lines = ["POST %s HTTP/1.1" % target, "Host: %s" % host_header, "Content-Length: %d" % len(body),
                 "Connection: close"]
        lines += ["%s: %s" % (k, v) for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        fields = status_line.decode("latin-1").split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            return PostResult(0, "not an HTTP answer")
        status = int(fields[1])
        for _ in range(200):  # the headers (ignored), up to the blank line; the body is not read
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
        return PostResult(status)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
