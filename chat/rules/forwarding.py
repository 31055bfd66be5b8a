"""Pure input rules of forwarding: the body of a forward (REST and ``message:forward``)."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from chat.rules.validation import MAX_CLIENT_MSG_ID, obj, string


@dataclasses.dataclass
class Forward:
    conversation_id: str
    client_msg_id: Optional[str]


def parse_forward(body: Any) -> Forward:
    """``{conversationId, clientMsgId?}`` (the clientMsgId makes a retried forward idempotent)."""
    body = obj(body)
    return Forward(string(body, "conversationId", max_len=64) or "",
                   string(body, "clientMsgId", required=False, max_len=MAX_CLIENT_MSG_ID))
