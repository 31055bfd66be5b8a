"""Logging set-up: human-readable lines or one JSON object per line (for log shippers)."""
from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, Dict

# A token in a query string (REST clients may use ?token= like WebSocket ones) must never
# reach a log line: access logs print the URI. Nor may a signed link's signature and signer
# (``?u=&sig=`` of export downloads, upload links and unsubscribe links): the link is a credential.
_TOKEN_IN_URI = re.compile(r"([?&](?:(?:access_)?token|sig|u)=)[^&\s]*", re.IGNORECASE)


class ScrubTokens(logging.Filter):
    """Replaces ``token=...`` query values with ``token=***`` in every record it sees, and
    ``sig=`` (with ``u=`` beside it) likewise."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        lowered = message.lower()
        if "token=" in lowered or "sig=" in lowered:
            record.msg, record.args = _TOKEN_IN_URI.sub(r"\1***", message), None
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` plus ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: Dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + ".%03dZ" % record.msecs,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    """Configure the root logger once per process (``fmt``: text or json)."""
    handler = logging.StreamHandler()
    handler.addFilter(ScrubTokens())  # on the handler: it sees records of every logger
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
