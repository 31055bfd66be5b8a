"""JWT verification (PyJWT) of tokens the LMS issues, and minting for the `token` command."""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import time
from typing import Any, Dict, List, Optional, Tuple

import jwt

from chat.errors import Unauthorized
from chat.rules.email_digest import valid_address
from chat.rules.validation import storable
from chat.settings import Settings
from chat.vocab import ROLES

log = logging.getLogger("chat.auth")



@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for."""

    user_id: str
    role: str
    school: str
    name: str
    exp: int
    email: str = ""  # notifications: missed-message email (the token's optional ``email`` claim)

    def public(self) -> Dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "role": self.role, "school": self.school}


#: how a bot's token starts (a JWT never does): REST tells the two apart by it
BOT_TOKEN_PREFIX = "chatbot_"
#: a bot speaks as this id prefix (never an LMS user id the roster could hold: ids are checked)
BOT_USER_PREFIX = "bot:"


@dataclasses.dataclass(frozen=True, slots=True)
class BotIdentity(Identity):
    """A bot (service account) of a school: sends as staff (``role`` teacher) to the
    conversations and classes of its scopes, and nothing else (chat/domain/notify/bots.py)."""

    bot_id: str = ""
    conversation_ids: Tuple[str, ...] = ()
    class_ids: Tuple[str, ...] = ()


def is_bot_token(token: Optional[str]) -> bool:
    return bool(token) and str(token).startswith(BOT_TOKEN_PREFIX)


def resolve_secret(settings: Settings) -> str:
    """The HS256 secret: the setting, else ``<data-dir>/jwt-secret`` (created once, mode 0600)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = os.path.join(settings.data_dir, "jwt-secret")
    try:
        with open(path, "r", encoding="ascii") as fh:
            value = fh.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    os.makedirs(settings.data_dir, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes racing to create it agree on the first one written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "r", encoding="ascii") as fh:
            return fh.read().strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    log.info("generated a JWT secret in %s (set CHAT_JWT_SECRET to use your LMS's)", path)
    return value


class TokenVerifier:
    """Verifies bearer tokens into :class:`Identity`; every failure is ``Unauthorized``."""

    def __init__(self, settings: Settings) -> None:
        self._leeway = settings.jwt_leeway
        self._issuer = settings.jwt_issuer or None
        self._audience = settings.jwt_audience or None
        if settings.jwt_public_key_file:
            with open(settings.jwt_public_key_file, "rb") as fh:
                self._key: Any = fh.read()
            self._algorithms: List[str] = ["RS256", "ES256"]
        else:
            self._key = resolve_secret(settings)
            self._algorithms = ["HS256"]

    def verify(self, token: Optional[str]) -> Identity:
        """Decode and check a token; raise :class:`Unauthorized` with a reason otherwise."""
        if not token:
            raise Unauthorized("missing token")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                leeway=self._leeway,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token: %s" % _why(exc)) from None
        return identity_from_claims(claims)


_WHY = (
    (jwt.InvalidSignatureError, "the signature does not match the server's key"),
    (jwt.ImmatureSignatureError, "not valid yet (nbf/iat in the future)"),
    (jwt.InvalidAudienceError, "wrong audience (aud)"),
    (jwt.InvalidIssuerError, "wrong issuer (iss)"),
    (jwt.MissingRequiredClaimError, "a required claim is missing"),
    (jwt.InvalidAlgorithmError, "the signing algorithm is not accepted"),
    (jwt.DecodeError, "not a well-formed JWT"),
)


def _why(exc: Exception) -> str:
    """A plain-language reason (never a library class name)."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return "the claim %r is missing" % exc.claim
    for kind, reason in _WHY:
        if isinstance(exc, kind):
            return reason
    return "it could not be verified"


def identity_from_claims(claims: Dict[str, Any]) -> Identity:
    """Validate the claims of PROTOCOL §1 (``sub``/``userId``, ``role``, ``school``/``schoolId``):
    every one a string (the server stores them), roles lowercase."""
    user_key = "sub" if "sub" in claims else "userId"
    school_key = "school" if "school" in claims else "schoolId"
    user_id = claims.get(user_key)
    school = claims.get(school_key)
    role = claims.get("role")
    name = claims.get("name")
    if not _claim_ok(user_id, 128):
        raise Unauthorized("token claim %s (or sub/userId) must be a non-empty string of at most 128 characters"
                           % user_key)
    if str(user_id).startswith(BOT_USER_PREFIX):
        raise Unauthorized("user ids starting with %s are the server's bots" % BOT_USER_PREFIX)
    if not _claim_ok(school, 128):
        raise Unauthorized("token claim %s (or school/schoolId) must be a non-empty string of at most 128 characters"
                           % school_key)
    if role not in ROLES:
        raise Unauthorized("token claim role must be one of %s (lowercase)" % ", ".join(ROLES))
    if name is not None and (not isinstance(name, str) or len(name) > 200 or not storable(name)):
        raise Unauthorized("token claim name must be a string of at most 200 characters")
    try:
        exp = int(claims["exp"])
    except (TypeError, ValueError, OverflowError):
        raise Unauthorized("token claim exp must be a number") from None
    email = claims.get("email")  # an address the server cannot use is left out, not refused
    return Identity(user_id=str(user_id), role=role, school=str(school), name=(name or "").strip(), exp=exp,
                    email=str(email) if valid_address(email) else "")


def _claim_ok(value: Any, max_len: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_len and storable(value)


def mint_token(settings: Settings, user: str, role: str, school: str, name: str = "", ttl: int = 3600,
               extra: Optional[Dict[str, Any]] = None) -> str:
    """A token the server with these settings accepts (HS256, or the private key when configured)."""
    if role not in ROLES:
        raise ValueError("role must be one of %s" % ", ".join(ROLES))
    now = int(time.time())
    claims: Dict[str, Any] = {"sub": user, "role": role, "school": school, "iat": now, "exp": now + ttl}
    if name:
        claims["name"] = name
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    claims.update(extra or {})
    if settings.jwt_public_key_file:
        if not settings.jwt_private_key_file:
            raise ValueError("a public key is configured: set CHAT_JWT_PRIVATE_KEY_FILE to mint tokens")
        with open(settings.jwt_private_key_file, "rb") as fh:
            key = fh.read()
        algorithm = "ES256" if b"EC PRIVATE" in key or _is_ec(key) else "RS256"
        return jwt.encode(claims, key, algorithm=algorithm)
    return jwt.encode(claims, resolve_secret(settings), algorithm="HS256")


def _is_ec(pem: bytes) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return isinstance(load_pem_private_key(pem, password=None), ec.EllipticCurvePrivateKey)
