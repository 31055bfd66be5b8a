"""Resync after a reconnect: what a client missed, bounded so that a reply always fits.

A reply carries at most ``sync_max_messages`` messages and about ``sync_max_bytes`` of them
(well under the socket's pending-bytes limit, past which the server would drop the slow
consumer), ``hasMore`` per conversation and ``changedHasMore``/``changedNext`` for edits,
deletes and reactions; a client that repeats ``sync`` with what it got until nothing is left
always recovers everything.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.live.recent import CHANGES_CAP, RecentPages, Row
from chat.rules import render
from chat.rules.render import dumps
from chat.timeutil import iso


class SyncActions:
    def __init__(self, core: Core, recent: Optional[RecentPages] = None) -> None:
        self.core = core
        self.recent = recent

    async def _after(self, conversation_id: str, after: int, want: int, last_seq: int) -> Tuple[List[Row], bool]:
        """Up to ``want`` messages after seq ``after`` (views and sizes) and whether storage
        holds more; from :class:`RecentPages` when another member just read the same."""
        recent = self.recent
        if recent is not None:
            page = recent.get(conversation_id, after, want, last_seq)
            if page is not None:
                return page.rows, page.more
            generation = recent.generation(conversation_id)
        found = await self.core.store.messages.history(conversation_id, None, after, want + 1)
        rows: List[Row] = []
        for doc in found[:want]:
            view = render.message(doc)
            rows.append((view, len(dumps(view))))
        more = len(found) > want
        # kept only when it reaches the conversation's lastSeq: seqs are handed out before their
        # insert ends, and a page read meanwhile must not stand for the conversation later
        complete = more or after >= last_seq or (bool(rows) and rows[-1][0].get("seq", 0) >= last_seq)
        if recent is not None and complete:
            recent.put(conversation_id, after, want, generation, last_seq, rows, more)
        return rows, more

    def _cached_participation(self, ident: Identity, seen: Dict[str, int]) -> Optional[Dict[str, int]]:
        """The ``lastSeq`` of each conversation of ``seen`` the caller takes part in (token
        school), when the cache holds fresh states of them all; None otherwise."""
        if self.recent is None or not seen:
            return None
        states = self.core.cache.cached(seen)
        if len(states) != len(seen) or any(st.stale for st in states.values()):
            return None
        return {cid: st.last_seq for cid, st in states.items()
                if st.school == ident.school and ident.user_id in st.roles}

    async def _changed(self, ident: Identity, since: int, limit: int) -> Optional[List[Dict[str, Any]]]:
        """Up to ``limit`` messages changed after ``since`` in the caller's conversations,
        from one read of every conversation's changes shared by all callers (None when that
        read would be too long: then per caller)."""
        recent = self.recent
        if recent is None:
            return None
        docs = recent.changes(since)
        if docs is None:
            generation = recent.change_generation()
            docs = await self.core.store.messages.changed_any(since, CHANGES_CAP + 1)
            if len(docs) > CHANGES_CAP:
                return None
            recent.put_changes(since, generation, docs)
        # who takes part where, from cached states only: a conversation changed a moment ago
        # was loaded by that change; loading hundreds here for one caller would cost more
        changed_in = {d["conversationId"] for d in docs}
        states = self.core.cache.cached(changed_in)
        if len(states) < len(changed_in) or any(st.stale for st in states.values()):
            return None
        found: List[Dict[str, Any]] = []
        for doc in docs:
            state = states[doc["conversationId"]]
            if state.school == ident.school and ident.user_id in state.roles:
                found.append(doc)
                if len(found) >= limit:
                    break
        return found

    async def sync(self, ident: Identity, seen: Dict[str, int], changed_since: Optional[int], limit: int
                   ) -> Dict[str, Any]:
        """Messages after the last seq seen per conversation (ascending, at most ``limit``
        each), and those changed since ``changed_since``, within the reply bounds."""
        settings = self.core.settings
        # the conversations asked about, from the cache when it holds them all (a reconnecting
        # school: each member's sync then reads no memberships), else with the memberships
        memberships: Optional[Dict[str, Any]] = None
        member_of = self._cached_participation(ident, seen)
        if member_of is None:
            memberships, docs = await self.core.my_memberships(ident)
            member_of = {d["id"]: d.get("lastSeq", 0) for d in docs}
        last_seqs = member_of
        budget_messages = settings.sync_max_messages
        budget_bytes = settings.sync_max_bytes
        messages: List[Dict[str, Any]] = []
        has_more: Dict[str, bool] = {}
        for cid, last in seen.items():
            if cid not in member_of:
                has_more[cid] = False
                continue
            want = min(limit, budget_messages)
            if want <= 0 or budget_bytes <= 0:
                has_more[cid] = last_seqs.get(cid, 0) > last
                continue
            rows, more = await self._after(cid, last, want, last_seqs.get(cid, 0))
            taken = 0
            for view, size in rows:
                if taken and size > budget_bytes:
                    break
                messages.append(view)
                budget_bytes -= size
                taken += 1
            budget_messages -= taken
            has_more[cid] = more or len(rows) > taken
        changed: List[Dict[str, Any]] = []
        reply: Dict[str, Any] = {"messages": messages, "changed": changed, "hasMore": has_more,
                                 "changedHasMore": False, "changedNext": None}
        if changed_since is not None:
            want = max(1, min(settings.sync_changed_limit, budget_messages))
            found = await self._changed(ident, changed_since, want + 1)
            if found is None:
                if memberships is None:
                    memberships, _docs = await self.core.my_memberships(ident)
                found = await self.core.store.messages.changed_since(list(memberships), changed_since, want + 1)
            more = len(found) > want
            kept = found[:want]
            if more:
                # never split one millisecond across two replies: the next one asks for later times
                cut = found[want].get("updatedAt")
                trimmed = [d for d in kept if d.get("updatedAt") != cut]
                kept = trimmed or kept
            for doc in kept:
                view = render.message(doc)
                size = len(dumps(view))
                if changed and size > budget_bytes:
                    more = True
                    break
                changed.append(view)
                budget_bytes -= size
            if changed and more:
                last_time = kept[len(changed) - 1].get("updatedAt")
                reply["changedNext"] = iso(last_time)
            reply["changedHasMore"] = more
        return reply
