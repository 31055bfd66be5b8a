"""ChatService: the chat domain, built once, and the one door to it.

Handlers (REST and WebSocket alike) call the domain's action objects through it, as Zulip's
views call its ``do_*`` actions: ``service.messages.send(...)``, ``service.markers.mark(...)``;
nothing reaches under them. Each action module is one concept:

- :mod:`chat.domain.directory`: who a token speaks for, whom one can find;
- :mod:`chat.domain.conversations`: create, list, view, rename, flags, participants;
- :mod:`chat.domain.messages`: send, history, edit, delete, imports;
- :mod:`chat.domain.reactions`, :mod:`chat.domain.markers` (read/delivered, receipts, unread overview),
  :mod:`chat.domain.search`, :mod:`chat.domain.sync`;
- underneath: :mod:`chat.live.convcache` (live conversation state), :mod:`chat.live.writer` (group
  commit), :mod:`chat.live.flusher` (write-behind), :mod:`chat.live.unread` (counters),
  :mod:`chat.rules.policy` (who may do what), :mod:`chat.store` (repositories over one seam).

Whatever must reach other users leaves through the :class:`chat.events.EventSink` the service
is built with. Start-up, drain and what a cluster needs are named methods here (:meth:`start`,
:meth:`drain`, :meth:`close`, :meth:`conversation_changed_elsewhere`,
:meth:`message_stored_elsewhere`, :meth:`safety_changed_elsewhere`), so nothing outside reaches into the live state.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

from chat.clock import Clock, SystemClock
from chat.domain.classes import ClassActions
from chat.domain.conversations import ConversationActions
from chat.domain.core import Core
from chat.domain.directory import DirectoryActions
from chat.domain.markers import MarkerActions
from chat.domain.messages import MessageActions
from chat.domain.oversight.audit import AuditLog
from chat.domain.oversight.audit_actions import AuditActions
from chat.domain.oversight.grant_book import StoredGrants
from chat.domain.oversight.grants import GrantActions
from chat.domain.oversight.holds import HoldActions, HoldBook
from chat.domain.oversight.retention import RetentionActions
from chat.domain.oversight.retention_sweep import RetentionSweeper
from chat.domain.reactions import ReactionActions
from chat.domain.safety.blocks import BlockActions
from chat.domain.safety.changes import safety_changed_elsewhere
from chat.domain.safety.filter_actions import FilterActions
from chat.domain.safety.moderation import ModerationActions
from chat.domain.safety.policy_actions import PolicyActions
from chat.domain.safety.rules import build_rules
from chat.domain.search import SearchActions
from chat.domain.search_indexer import SearchIndexer
from chat.domain.sync import SyncActions
from chat.events import EventSink, Fanout, NullEvents
from chat.live.convcache import ConversationCache
from chat.live.flusher import Flusher
from chat.live.recent import RecentPages
from chat.live.unread import UnreadCounter
from chat.live.writer import MessageWriter, SharedSeqs
from chat.metrics import Metrics
from chat.settings import Settings
from chat.store import Store
from chat.store.search_index import SEARCH_INDEX_FILE, SearchIndex
from chat.uploads import MessageCarried, UploadsService


class ChatService:
    """The chat domain on top of :class:`Store` (see the module doc)."""

    def __init__(self, settings: Settings, store: Store, events: Optional[EventSink] = None,
                 online: Optional[Callable[[str], bool]] = None, clock: Optional[Clock] = None,
                 uploads: Optional[UploadsService] = None, metrics: Optional[Metrics] = None,
                 shared_seqs: Optional[SharedSeqs] = None) -> None:
        """``shared_seqs``: several processes write the database (a cluster): each batch's
        seqs are reserved there instead of counted in memory."""
        single_writer = shared_seqs is None
        self.settings = settings
        self.store = store
        # sync's pages are kept while this process sees every write as an event (not in a cluster)
        clock = clock or SystemClock()
        self.recent = (RecentPages(settings.sync_cache_bytes, clock)
                       if single_writer and settings.sync_cache_bytes > 0 else None)
        sink: EventSink = events or NullEvents()
        # a Fanout always: a section adds its own sink below (notifications: webhooks)
        self.events: Fanout = Fanout([self.recent, sink] if self.recent is not None else [sink])
        cache = ConversationCache(store)
        flusher = Flusher(cache, store.conversations, clock, settings.conversation_flush)
        writer = MessageWriter(cache, store.messages, self.events, flusher.schedule, settings.write_linger,
                               observe_batch=metrics.writer_batch if metrics else None,
                               observe_latency=metrics.send_latency if metrics else None)
        if shared_seqs is not None:
            writer.use_shared_seqs(shared_seqs.reserve, shared_seqs.give_back)
        self.core = Core(settings=settings, store=store, events=self.events, clock=clock, cache=cache,
                         writer=writer, flusher=flusher, online=online or (lambda _user_id: False),
                         audit=AuditLog(store.audit, clock), holds=HoldBook(store.holds))
        for rule in build_rules(self.core):
            self.core.safety.add(rule)
        counter = UnreadCounter(store, settings.unread_chunk, settings.unread_concurrency)
        self.directory = DirectoryActions(self.core)
        self.markers = MarkerActions(self.core, counter)
        self.messages = MessageActions(self.core, counter, uploads)
        self.conversations = ConversationActions(self.core, self.directory, self.messages, self.markers)
        self.classes = ClassActions(self.core)
        self.reactions = ReactionActions(self.core)
        self.search_index = None
        if settings.search_index:  # each node keeps its own file (chat/store/search_index.py)
            self.search_index = SearchIndex(settings.search_index_path
                                            or os.path.join(settings.data_dir, SEARCH_INDEX_FILE))
        self.searcher = SearchActions(self.core, self.search_index)
        self.search_indexer = SearchIndexer(self.core, self.search_index) if self.search_index else None
        if self.search_indexer is not None:
            self.events.add(self.search_indexer.feed)  # its own stored messages, without a read back
        self.syncer = SyncActions(self.core, self.recent)
        # safeguarding: school policy
        self.school_policy = PolicyActions(self.core, self.messages)
        # safeguarding: blocks, mutes, slow mode
        self.blocks = BlockActions(self.core)
        # safeguarding: reports and moderation
        self.moderation = ModerationActions(self.core, self.messages, self.blocks)
        self.filters = FilterActions(self.core)  # safeguarding: word filters

        # --- oversight: audit log (add below)
        self.audit = AuditActions(self.core)

        # --- oversight: access grants (add below)
        self.core.grants = StoredGrants(store.grants, clock)
        self.grants = GrantActions(self.core, self.core.grants)
        if uploads is not None:
            if isinstance(uploads.carried, MessageCarried):
                uploads.carried.use_reader(self.grants.attachment_reader)  # granted reads of attachments
            uploads.use_admin_look(self.grants.admin_file_look)  # an admin's look at a carried file

        # --- oversight: retention and holds (add below)
        self.retention = RetentionActions(self.core)
        self.holds = HoldActions(self.core)
        self.retention_sweeper = RetentionSweeper(self.core, uploads, metrics)

        # --- oversight: export and erasure (add below)
        from chat.domain.oversight.erasure import ErasureActions  # each section keeps its lines together
        from chat.domain.oversight.exports import ExportActions
        self.exports = ExportActions(self.core, uploads)
        self.erasure = ErasureActions(self.core, self.directory, self.retention_sweeper, uploads)
        if uploads is not None:  # the upload sweep keeps what a legal hold covers
            from chat.domain.oversight.upload_holds import held_uploads
            uploads.use_holds(held_uploads(self.core.holds, self.core.store.forwards))

        # --- oversight: quiet hours (add below)
        from chat.domain.oversight.quiet_hours import QuietHoursActions  # each section keeps its lines together
        self.quiet_hours = QuietHoursActions(self.core)

        # --- notifications: missed-message email (add below)
        from chat.domain.notify.email_prefs import NotificationActions
        from chat.domain.notify.missed_email import MissedEmail
        self.missed_email = MissedEmail(self.core, metrics.registry if metrics else None)
        if isinstance(self.events, Fanout):  # stored messages are noted (the tools' null sink has none)
            self.events.add(self.missed_email)
        self.notifications = NotificationActions(self.core, self.missed_email)

        # --- notifications: webhooks (add below)
        from chat.domain.notify.webhook_dispatch import WebhookDispatcher  # each section keeps its lines together
        from chat.domain.notify.webhook_events import WebhookEvents
        from chat.domain.notify.webhooks import WebhookActions
        self.webhook_dispatcher = WebhookDispatcher(settings, store.webhooks, clock, messages=store.messages.get)
        self.events.add(WebhookEvents(self.webhook_dispatcher, settings, cache))
        self.webhooks = WebhookActions(self.core, self.webhook_dispatcher)

        # --- notifications: bots (add below)
        from chat.domain.notify.bots import BotActions
        self.bots = BotActions(self.core)

        # --- notifications: scheduled messages (add below)
        from chat.domain.notify.scheduled import ScheduledActions
        from chat.domain.notify.scheduled_sender import ScheduledSender
        self.scheduled = ScheduledActions(self.core)
        self.scheduled_sender = ScheduledSender(self.core, self.messages)

        # --- notifications: forwarding (add below)
        from chat.domain.notify.forwarding import ForwardActions
        self.forwarding = ForwardActions(self.core, self.messages)
        if uploads is not None and isinstance(uploads.carried, MessageCarried):
            uploads.carried.use_forwards(self.forwarding.carries)  # forwarded files, read by the target's members

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Read what handshakes need into memory (after a restart the whole school reconnects
        at once: the first hundred handshakes should not all wait on these reads)."""
        await self.directory.load()
        # safeguarding: school policy (a change a crash interrupted tells its conversations now)
        await self.school_policy.resume_pending()

    async def drain(self) -> None:
        """Wait until every queued send is written and answered."""
        await self.core.writer.drain()

    def conversation_changed_elsewhere(self, conversation_id: str) -> None:
        """Another process changed the conversation's participants or title: re-read it
        before its next use, however soon that is."""
        self.core.cache.mark_stale(conversation_id)

    def safety_changed_elsewhere(self, kind: str, key: str) -> None:
        """Another process changed a safeguarding setting (a school's policy or filter lists,
        a user's blocks, a conversation's mutes): drop the copy kept here at once."""
        if kind == self.erasure.kind:  # an erased user's directory entry (oversight: erasure)
            self.erasure.erased_elsewhere(key)
            return
        safety_changed_elsewhere(self.core, kind, key)

    def message_stored_elsewhere(self, conversation_id: str, seq: int) -> None:
        """Another process stored seq ``seq``: markers here may move up to it."""
        self.core.cache.note_seq(conversation_id, seq)

    async def flush(self) -> None:
        """Write the live conversation state of changed conversations now."""
        await self.core.flusher.flush()

    async def start_background(self, alone: bool) -> None:
        """Start the work that runs on its own timers (``alone``: no other node shares this
        database, so an unfinished export of the last run is known to be dead)."""
        self.retention_sweeper.start()  # oversight: retention and holds
        await self.exports.start(alone=alone)  # oversight: export and erasure
        self.missed_email.start()  # notifications: missed-message email
        self.scheduled_sender.start()  # notifications: scheduled messages
        await self.webhook_dispatcher.start()  # notifications: webhooks (the outbox goes out)
        if self.search_index is not None and self.search_indexer is not None:
            await self.search_index.open()
            self.search_indexer.start()

    async def stop_background(self) -> None:
        """Stop it (at shutdown, before :meth:`close`); webhooks stop in :meth:`close`, after
        the last events."""
        await self.retention_sweeper.stop()
        await self.missed_email.stop()
        await self.exports.stop()
        await self.scheduled_sender.stop()
        if self.search_index is not None and self.search_indexer is not None:
            await self.search_indexer.stop()
            await self.search_index.close()

    async def close(self) -> None:
        """Finish queued sends and write the conversation state (at shutdown)."""
        await self.core.writer.drain()
        await self.core.flusher.close()
        await self.webhook_dispatcher.stop()  # notifications: webhooks (after the last events)
