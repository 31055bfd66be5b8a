"""Read and delivered markers, receipts and the unread overview."""
from __future__ import annotations

from typing import Any, Dict, List

from chat.auth import Identity
from chat.domain.core import Core
from chat.errors import Forbidden, NotFound
from chat.events import Audience
from chat.live.unread import UnreadCounter
from chat.rules import render
from chat.timeutil import iso, now_ms
from chat.vocab import Marker


class MarkerActions:
    def __init__(self, core: Core, counter: UnreadCounter) -> None:
        self.core = core
        self.counter = counter

    async def mark(self, ident: Identity, conversation_id: str, seq: int, kind: str) -> Dict[str, Any]:
        """Move the caller's read or delivered marker forward (never back, never past lastSeq)."""
        state, before = await self.core.membership(ident, conversation_id)
        seq = min(seq, state.last_seq)
        after = await self.core.store.conversations.advance_marker(conversation_id, ident.user_id, kind, seq,
                                                                   now_ms())
        if after is None:
            raise Forbidden("not a participant of this conversation")
        field = "lastReadSeq" if kind == Marker.READ else "lastDeliveredSeq"
        moved = after.get(field, 0) > before.get(field, 0)
        if moved:
            at = after.get("lastReadAt" if kind == Marker.READ else "lastDeliveredAt")
            self.core.events.marker_moved({"conversationId": conversation_id, "seq": after[field],
                                           "userId": ident.user_id, "status": kind, "at": iso(at)},
                                          state.audience())
        if kind == Marker.READ:
            after = await self.counter.settle(after, state.last_seq)
        result = {"conversationId": conversation_id, "unread": after.get("unread", 0),
                  "mentions": after.get("unreadMentions", 0),
                  "lastReadSeq": after.get("lastReadSeq", 0), "lastDeliveredSeq": after.get("lastDeliveredSeq", 0)}
        if kind == Marker.READ and (moved or after.get("unread") != before.get("unread")):
            self.core.events.unread_changed({"conversationId": conversation_id, "unread": result["unread"],
                                             "mentions": result["mentions"],
                                             "lastReadSeq": result["lastReadSeq"]},
                                            Audience.one(state.school, ident.user_id))
        return result

    async def receipts(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        """Per other participant: delivered/read with the time its marker last moved."""
        msg, state = await self.core.readable_message(ident, message_id, "receipts")
        if msg.get("deletedAt") is not None:
            raise NotFound("the message was deleted")  # nothing to report receipts of
        members = await self.core.store.conversations.memberships_of([state.id])
        users = await self.core.store.directory.get_users(m["userId"] for m in members)
        rows = []
        for m in sorted(members, key=lambda m: m["userId"]):
            if m["userId"] == msg["senderId"]:
                continue
            read = m.get("lastReadSeq", 0) >= msg["seq"]
            delivered = read or m.get("lastDeliveredSeq", 0) >= msg["seq"]
            rows.append({"userId": m["userId"], "name": render.display_name(m["userId"], users),
                         "status": "read" if read else "delivered" if delivered else "sent",
                         "delivered": delivered, "deliveredAt": iso(m.get("lastDeliveredAt")) if delivered else None,
                         "read": read, "readAt": iso(m.get("lastReadAt")) if read else None})
        return {"messageId": message_id, "conversationId": state.id, "seq": msg["seq"], "receipts": rows}

    async def catch_up(self, memberships: List[Dict[str, Any]], last_seqs: Dict[str, int]) -> None:
        """Bring the counters of these memberships up to their conversation (in place)."""
        for m in memberships:
            last = last_seqs.get(m["conversationId"], 0)
            if self.counter.stale(m, last):
                await self.counter.settle(m, last)

    async def unread(self, ident: Identity) -> Dict[str, Any]:
        """Unread per conversation and the total (muted and archived ones left out of the total)."""
        memberships, docs = await self.core.my_memberships(ident)
        mine = list(memberships.values())
        await self.catch_up(mine, {d["id"]: d.get("lastSeq", 0) for d in docs})
        rows = []
        total = mentions_total = 0
        for m in mine:
            rows.append({"conversationId": m["conversationId"], "unread": m.get("unread", 0),
                         "mentions": m.get("unreadMentions", 0),
                         "lastReadSeq": m.get("lastReadSeq", 0), "muted": m.get("mutedUntil") is not None})
            if m.get("mutedUntil") is None and m.get("archivedAt") is None:
                total += m.get("unread", 0)
            mentions_total += m.get("unreadMentions", 0)  # a mention reaches its user even when muted
        rows.sort(key=lambda r: r["conversationId"])
        return {"total": total, "mentionsTotal": mentions_total, "conversations": rows}
