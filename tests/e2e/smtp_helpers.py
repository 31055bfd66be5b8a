"""A real SMTP server for the missed-message email tests (aiosmtpd, on a loopback port, in a
thread of its own): it keeps every message it accepts, and can refuse the next few."""
from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any, List

from aiosmtpd.controller import Controller

from chat.ops.embedded import free_port


class Inbox:
    """What the server accepted; ``refuse`` DATA commands answered 451 first."""

    def __init__(self) -> None:
        self.messages: List[EmailMessage] = []
        self.envelopes: List[Any] = []
        self.refuse = 0
        self.refused = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
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
