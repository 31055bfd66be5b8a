"""Short-lived signed download URLs: an ``<img>`` cannot send an ``Authorization`` header, and
a JWT must never travel in a URL (it would land in logs and histories).

A signature binds the upload, the variant (file or thumbnail), the caller's id, role and
school, and an expiry; the download still runs the full authorization rule for that caller,
so a link stops working as soon as the caller loses access, and within ``ttl`` anyway.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Dict, Mapping, Optional
from urllib.parse import urlencode

from chat.auth import ROLES, Identity
from chat.errors import Unauthorized


def derive_key(secret: str) -> bytes:
    """A key for URL signatures only, derived from the server's secret (so a signature is
    never usable as anything else)."""
    return hmac.new(secret.encode("utf-8"), b"chat upload download links v1", hashlib.sha256).digest()


class UrlSigner:
    """Signs and checks the ``u, r, s, e, sig`` query parameters of download links."""

    def __init__(self, key: bytes, ttl: int) -> None:
        self._key = key
        self.ttl = ttl

    def _mac(self, upload_id: str, variant: str, user: str, role: str, school: str, exp: int) -> str:
        msg = "\n".join((upload_id, variant, user, role, school, str(exp))).encode("utf-8")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def query(self, upload_id: str, variant: str, ident: Identity, exp: Optional[int] = None) -> Dict[str, str]:
        """The query parameters of a link for ``ident`` (expiring ``ttl`` seconds from now)."""
        exp = int(time.time()) + self.ttl if exp is None else exp
        return {"u": ident.user_id, "r": ident.role, "s": ident.school, "e": str(exp),
                "sig": self._mac(upload_id, variant, ident.user_id, ident.role, ident.school, exp)}

    def url(self, path: str, upload_id: str, variant: str, ident: Identity, exp: Optional[int] = None) -> str:
        """``path?…`` signed for ``ident``."""
        return path + "?" + urlencode(self.query(upload_id, variant, ident, exp))

    def verify(self, upload_id: str, variant: str, args: Mapping[str, str], now: Optional[float] = None) -> Identity:
        """The identity a link speaks for; ``Unauthorized`` when it is forged or expired."""
        user, role, school, exp_s, sig = (args.get(k, "") for k in ("u", "r", "s", "e", "sig"))
        if not (user and school and role in ROLES and exp_s.isdigit() and sig):
            raise Unauthorized("incomplete download link")
        exp = int(exp_s)
        if not hmac.compare_digest(sig, self._mac(upload_id, variant, user, role, school, exp)):
            raise Unauthorized("invalid download link")
        if exp < (time.time() if now is None else now):
            raise Unauthorized("download link expired")
        return Identity(user_id=user, role=role, school=school, name="", exp=exp)
