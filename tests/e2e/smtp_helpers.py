"""A real SMTP server for the missed-message email tests (aiosmtpd, on a loopback port, in a
thread of its own): it keeps every message it accepts, and can refuse the next few."""
from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any, List

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from chat.ops.embedded import free_port

#: the password a server made with ``login=True`` takes (user ``chat``)
PASSWORD = b"correct horse battery"


class Inbox:
    """What the server accepted; ``refuse`` DATA commands answered 451 first. ``tls_context``:
    STARTTLS offered; ``ssl_context``: TLS from the start; ``login=True``: AUTH required."""

    def __init__(self, **controller: Any) -> None:
        self.messages: List[EmailMessage] = []
        self.envelopes: List[Any] = []
        self.refuse = 0
        self.refused = 0
        self.entered = threading.Event()  # a DATA command arrived
        self.hold = threading.Event()  # DATA is answered only once this is set (it is, unless a test clears it)
        self.hold.set()
        self._lock = threading.Lock()
        self.port = free_port()
        self.logins: List[bytes] = []
        if controller.pop("login", None) is not None:
            controller["authenticator"] = self._authenticate
            controller["auth_required"] = True
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **controller)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"chat" and auth_data.password == PASSWORD
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.entered.set()
        self.hold.wait(120)  # blocks this server's own thread only (longer than any test: a loop it blocked fails)
        with self._lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> List[EmailMessage]:
        return [m for m in list(self.messages) if m["To"] == address]

    def start(self) -> "Inbox":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
