"""The live state of active conversations, kept in memory by the one process that owns them.

:class:`ConvState` is authoritative for ``lastSeq``/``lastMessage``/``lastActivityAt`` (written
behind by :mod:`chat.live.flusher`) and for the member roles. :class:`ConversationCache` loads
each state once however many requests ask at the same time (single flight), recovers a
``lastSeq`` that was not flushed before an unclean stop from the newest stored message, and
evicts only states nothing holds: a state is pinned while any of its messages is queued or
being written, and a dirty one is kept until flushed.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Dict, Iterable, List, Optional

from chat.errors import NotFound
from chat.events import Audience
from chat.rules import render
from chat.store import Store

DEFAULT_CAPACITY = 20000


def summary(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The ``lastMessage`` summary of a stored message."""
    return {"id": doc["id"], "senderId": doc["senderId"], "senderName": doc.get("senderName"),
            "preview": render.preview(doc), "type": doc.get("type", "text"), "createdAt": doc["createdAt"]}


@dataclasses.dataclass
class ConvState:
    """An active conversation as the writer knows it."""

    doc: Dict[str, Any]
    roles: Dict[str, str]
    last_seq: int
    last_message: Optional[Dict[str, Any]]
    last_activity: int
    dirty: bool = False
    stale: bool = False  # another process changed participants or title: re-read before use

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def type(self) -> str:
        return str(self.doc["type"])

    @property
    def school(self) -> str:
        return str(self.doc.get("school"))

    @property
    def member_ids(self) -> List[str]:
        return list(self.roles)

    def audience(self) -> Audience:
        """Every participant, as members of this conversation's school."""
        return Audience(self.school, self.member_ids)

    def as_doc(self) -> Dict[str, Any]:
        """The conversation document with the live fields."""
        doc = dict(self.doc)
        doc.update(lastSeq=self.last_seq, lastMessage=self.last_message, lastActivityAt=self.last_activity,
                   memberIds=self.member_ids)
        return doc

    def stored(self, message: Dict[str, Any]) -> None:
        """Account for a message of this conversation that is now stored (``last_seq`` counts
        stored messages only, so a failed write never moves it)."""
        self.last_seq = max(self.last_seq, message["seq"])
        self.last_message = summary(message)
        self.last_activity = max(self.last_activity, message["createdAt"])
        self.dirty = True


class ConversationCache:
    """Conversation states by id (see the module doc)."""

    def __init__(self, store: Store, capacity: int = DEFAULT_CAPACITY) -> None:
        self.store = store
        self.capacity = capacity
        self._states: Dict[str, ConvState] = {}
        self._loading: Dict[str, "asyncio.Future[ConvState]"] = {}
        self._pins: Dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._states)

    def mark_stale(self, conversation_id: str) -> None:
        """Another process changed participants or title: re-read before the next use."""
        state = self.peek(conversation_id)
        if state is not None:
            state.stale = True

    def note_seq(self, conversation_id: str, seq: int) -> None:
        """Another process stored this seq: the cached ``lastSeq`` follows it."""
        state = self.peek(conversation_id)
        if state is not None and seq > state.last_seq:
            state.last_seq = seq

    def peek(self, conversation_id: str) -> Optional[ConvState]:
        """The cached state, without loading."""
        return self._states.get(conversation_id)

    async def get(self, conversation_id: str) -> ConvState:
        """The state, loaded once however many ask at once (``NotFound`` for unknown ids)."""
        state = self._states.get(conversation_id)
        if state is not None:
            if state.stale:
                await self.refresh(conversation_id)
            return state
        pending = self._loading.get(conversation_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: "asyncio.Future[ConvState]" = asyncio.get_running_loop().create_future()
        self._loading[conversation_id] = future
        try:
            state = await self._load(conversation_id)
            if len(self._states) >= self.capacity:
                self._evict()
            self._states[conversation_id] = state
            future.set_result(state)
            return state
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            del self._loading[conversation_id]

    async def _load(self, conversation_id: str) -> ConvState:
        doc = await self.store.conversations.get(conversation_id)
        if doc is None:
            raise NotFound("no such conversation")
        members = await self.store.conversations.memberships_of([conversation_id])
        newest = await self.store.messages.newest(conversation_id)
        last_seq, last_message, activity = doc.get("lastSeq", 0), doc.get("lastMessage"), doc.get("lastActivityAt", 0)
        if newest is not None and newest["seq"] > last_seq:  # written behind and not flushed: recover
            last_seq, last_message, activity = newest["seq"], summary(newest), newest["createdAt"]
        roles = {m["userId"]: m.get("role", "member")
                 for m in sorted(members, key=lambda m: (m.get("joinedAt", 0), m["userId"]))}
        return ConvState(doc, roles, last_seq, last_message, activity)

    def pin(self, conversation_id: str) -> None:
        """Keep this conversation's state from eviction (a message of it is in the writer)."""
        self._pins[conversation_id] = self._pins.get(conversation_id, 0) + 1

    def unpin(self, conversation_id: str) -> None:
        left = self._pins.get(conversation_id, 0) - 1
        if left > 0:
            self._pins[conversation_id] = left
        else:
            self._pins.pop(conversation_id, None)

    def _evict(self) -> None:
        # never a pinned or dirty state: a reload would not see its queued messages or its
        # unflushed lastSeq yet and would hand out those seqs again
        idle = [cid for cid, st in self._states.items() if not st.dirty and cid not in self._pins]
        for cid in idle[:max(1, self.capacity // 10)]:
            del self._states[cid]

    def invalidate(self, conversation_id: str) -> None:
        """Drop a state so the next use reloads it from storage (after a write whose outcome
        is not fully known: the reload finds whatever was stored)."""
        self._states.pop(conversation_id, None)

    async def refresh(self, conversation_id: str) -> None:
        """Re-read a cached state's document and roles in place (another process changed its
        participants or title); its live seq and unflushed fields are kept."""
        state = self._states.get(conversation_id)
        if state is None:
            return
        try:
            fresh = await self._load(conversation_id)
        except NotFound:
            self.forget(conversation_id)
            return
        state.doc, state.roles = fresh.doc, fresh.roles
        state.last_seq = max(state.last_seq, fresh.last_seq)
        state.stale = False

    def forget(self, conversation_id: str) -> None:
        """Drop a clean, unpinned state (after writes made outside the writer, e.g. a history
        import)."""
        state = self._states.get(conversation_id)
        if state is not None and not state.dirty and conversation_id not in self._pins:
            del self._states[conversation_id]

    def dirty(self) -> List[ConvState]:
        return [st for st in self._states.values() if st.dirty]

    def cached(self, conversation_ids: Iterable[str]) -> Dict[str, ConvState]:
        return {cid: self._states[cid] for cid in conversation_ids if cid in self._states}
