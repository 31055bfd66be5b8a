"""Webhook signatures (pure): what the server sends and how a receiver checks it.

Each delivery carries ``X-Chat-Timestamp`` (Unix seconds when this attempt was made) and
``X-Chat-Signature: sha256=<hex>``, the HMAC-SHA256 with the webhook's secret of
``<timestamp>.<raw body bytes>``. A receiver recomputes it over the bytes it received (before
parsing the JSON), compares in constant time, and refuses a timestamp further than a few
minutes from its own clock: a recorded delivery replayed later fails the window, and one with
its timestamp changed fails the signature. ``X-Chat-Delivery`` (the delivery id, the same on
every attempt) lets it drop a delivery it has already handled.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

SIGNATURE_HEADER = "X-Chat-Signature"
TIMESTAMP_HEADER = "X-Chat-Timestamp"
DELIVERY_HEADER = "X-Chat-Delivery"
EVENT_HEADER = "X-Chat-Event"
SCHEME = "sha256="
#: what a receiver should accept between its clock and the timestamp (seconds)
DEFAULT_TOLERANCE = 300


def signed_payload(timestamp: int, body: bytes) -> bytes:
    """The bytes the signature covers: the timestamp, a dot, the body."""
    return str(int(timestamp)).encode("ascii") + b"." + body


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Chat-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), signed_payload(timestamp, body), hashlib.sha256).hexdigest()
    return SCHEME + digest


def verify(secret: str, timestamp: Optional[str], body: bytes, signature: Optional[str], now: float,
           tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """What a receiver does: the timestamp is an integer within ``tolerance`` seconds of
    ``now`` and the signature matches (constant-time comparison)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
