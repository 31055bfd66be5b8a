"""ChatService: the one object REST and WebSocket handlers call.

A thin façade over the domain modules, each one concept:

- :mod:`chat.directory`: who a token speaks for, whom one can find;
- :mod:`chat.conversations`: create, list, view, rename, flags, participants;
- :mod:`chat.messages`: send, history, edit, delete, imports;
- :mod:`chat.reactions`, :mod:`chat.markers` (read/delivered, receipts, unread overview),
  :mod:`chat.search`, :mod:`chat.sync`;
- underneath: :mod:`chat.convcache` (live conversation state), :mod:`chat.writer` (group
  commit), :mod:`chat.flusher` (write-behind), :mod:`chat.unread` (counters),
  :mod:`chat.policy` (who may do what), :mod:`chat.store` (repositories over one seam).

Whatever must reach other users leaves through the :class:`chat.events.EventSink` the service
is built with.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from chat.auth import Identity
from chat.clock import Clock, SystemClock
from chat.convcache import ConversationCache
from chat.conversations import ConversationActions
from chat.core import Core
from chat.directory import DirectoryActions
from chat.events import EventSink, Fanout, NullEvents
from chat.flusher import Flusher
from chat.markers import MarkerActions
from chat.messages import MessageActions
from chat.metrics import Metrics
from chat.reactions import ReactionActions
from chat.recent import RecentPages
from chat.search import SearchActions
from chat.settings import Settings
from chat.store import Store
from chat.sync import SyncActions
from chat.unread import UnreadCounter
from chat.uploads import UploadsService
from chat.validation import ConversationPatch, NewConversation, NewMessage
from chat.writer import MessageWriter


class ChatService:
    """The chat domain on top of :class:`Store` (see the module doc)."""

    def __init__(self, settings: Settings, store: Store, events: Optional[EventSink] = None,
                 online: Optional[Callable[[str], bool]] = None, clock: Optional[Clock] = None,
                 uploads: Optional[UploadsService] = None, metrics: Optional[Metrics] = None,
                 single_writer: bool = True) -> None:
        self.settings = settings
        self.store = store
        # sync's pages are kept while this process sees every write as an event (not in a cluster)
        clock = clock or SystemClock()
        self.recent = (RecentPages(settings.sync_cache_bytes, clock)
                       if single_writer and settings.sync_cache_bytes > 0 else None)
        sink: EventSink = events or NullEvents()
        self.events: EventSink = Fanout([self.recent, sink]) if self.recent is not None else sink
        cache = ConversationCache(store)
        flusher = Flusher(cache, store.conversations, clock, settings.conversation_flush)
        writer = MessageWriter(cache, store.messages, self.events, flusher.schedule, settings.write_linger,
                               observe_batch=metrics.writer_batch if metrics else None,
                               observe_latency=metrics.send_latency if metrics else None)
        self.core = Core(settings=settings, store=store, events=self.events, clock=clock, cache=cache,
                         writer=writer, flusher=flusher, online=online or (lambda _user_id: False))
        counter = UnreadCounter(store, settings.unread_chunk, settings.unread_concurrency)
        self.directory = DirectoryActions(self.core)
        self.markers = MarkerActions(self.core, counter)
        self.messages = MessageActions(self.core, counter, uploads)
        self.conversations = ConversationActions(self.core, self.directory, self.messages, self.markers)
        self.reactions = ReactionActions(self.core)
        self.searcher = SearchActions(self.core)
        self.syncer = SyncActions(self.core, self.recent)

    # ------------------------------------------------------------------ directory
    async def touch_identity(self, ident: Identity) -> Identity:
        return await self.directory.touch_identity(ident)

    async def list_users(self, ident: Identity, q: str, role: str, limit: int) -> List[Dict[str, Any]]:
        return await self.directory.list_users(ident, q, role, limit)

    # ------------------------------------------------------------------ conversations
    async def create_conversation(self, ident: Identity, req: NewConversation) -> Tuple[Dict[str, Any], bool]:
        return await self.conversations.create(ident, req)

    async def list_conversations(self, ident: Identity, type_: Optional[str], archived: Optional[bool],
                                 q: Optional[str], limit: int, offset: int) -> Tuple[List[Dict[str, Any]], bool]:
        return await self.conversations.list(ident, type_, archived, q, limit, offset)

    async def get_conversation(self, ident: Identity, conversation_id: str) -> Dict[str, Any]:
        return await self.conversations.get(ident, conversation_id)

    async def member_ids(self, ident: Identity, conversation_id: str) -> List[str]:
        return await self.conversations.member_ids(ident, conversation_id)

    async def update_conversation(self, ident: Identity, conversation_id: str, patch: ConversationPatch
                                  ) -> Dict[str, Any]:
        return await self.conversations.update(ident, conversation_id, patch)

    async def add_participants(self, ident: Identity, conversation_id: str, user_ids: List[str]) -> Dict[str, Any]:
        return await self.conversations.add_participants(ident, conversation_id, user_ids)

    async def remove_participant(self, ident: Identity, conversation_id: str, user_id: str) -> Dict[str, Any]:
        return await self.conversations.remove_participant(ident, conversation_id, user_id)

    # ------------------------------------------------------------------ messages
    async def send_message(self, ident: Identity, conversation_id: str, req: NewMessage
                           ) -> Tuple[Dict[str, Any], bool]:
        return await self.messages.send(ident, conversation_id, req)

    async def history(self, ident: Identity, conversation_id: str, before: Optional[int], after: Optional[int],
                      limit: int) -> Tuple[List[Dict[str, Any]], bool, Optional[int]]:
        return await self.messages.history(ident, conversation_id, before, after, limit)

    async def history_around(self, ident: Identity, conversation_id: str, seq: int, limit: int
                             ) -> Tuple[List[Dict[str, Any]], bool, Optional[int], bool]:
        return await self.messages.around(ident, conversation_id, seq, limit)

    async def edit_message(self, ident: Identity, message_id: str, text: str) -> Dict[str, Any]:
        return await self.messages.edit(ident, message_id, text)

    async def delete_message(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        return await self.messages.delete(ident, message_id)

    async def import_messages(self, conversation_id: str, docs: Sequence[Dict[str, Any]]) -> int:
        return await self.messages.import_history(conversation_id, docs)

    async def react(self, ident: Identity, message_id: str, emoji: str, on: bool) -> Dict[str, List[str]]:
        return await self.reactions.react(ident, message_id, emoji, on)

    # ------------------------------------------------------------------ markers, search, sync
    async def mark(self, ident: Identity, conversation_id: str, seq: int, kind: str) -> Dict[str, Any]:
        return await self.markers.mark(ident, conversation_id, seq, kind)

    async def receipts(self, ident: Identity, message_id: str) -> Dict[str, Any]:
        return await self.markers.receipts(ident, message_id)

    async def unread(self, ident: Identity) -> Dict[str, Any]:
        return await self.markers.unread(ident)

    async def search(self, ident: Identity, q: str, conversation_id: Optional[str], limit: int
                     ) -> List[Dict[str, Any]]:
        return await self.searcher.search(ident, q, conversation_id, limit)

    async def sync(self, ident: Identity, seen: Dict[str, int], changed_since: Optional[int], limit: int
                   ) -> Dict[str, Any]:
        return await self.syncer.sync(ident, seen, changed_since, limit)

    # ------------------------------------------------------------------ lifecycle
    async def flush(self) -> None:
        """Write the live conversation state of changed conversations now."""
        await self.core.flusher.flush()

    async def close(self) -> None:
        """Finish queued sends and write the conversation state (at shutdown)."""
        await self.core.writer.drain()
        await self.core.flusher.close()
