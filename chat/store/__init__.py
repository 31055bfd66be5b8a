"""Storage: one seam (:mod:`chat.store.db`, the only pymongo importer) and a repository per
collection group.

The queries keep to a subset that behaves identically on nx-27017 and real MongoDB (README
"Storage rules"): ObjectId only as ``_id``, references as strings, integer epoch-millisecond
times, no booleans written by update, no subdocuments pushed into arrays, single-field
indexes for hot queries, ``{"$in": [None]}`` instead of ``None`` equality and ``{"$in": [v]}``
for array membership. Measured on nx-27017 and so avoided on hot paths: ``$in`` over an
indexed field other than ``_id`` scans the collection, ``$or`` is slower still, and
``count_documents`` with a range scans too; equality, ``_id`` ``$in`` and single-field
ranges use their index.

Domain rules (what counts as unread, how many reactions a message takes) live in the
domain modules, not here.
"""
from __future__ import annotations

from typing import Callable, Optional

from chat.store.audit_repo import AuditEntries
from chat.store.block_repo import Blocks
from chat.store.bot_repo import Bots
from chat.store.case_repo import Cases
from chat.store.conversation_repo import Conversations
from chat.store.db import Database, new_id, ping_uri
from chat.store.docs import reaction_key, search_text, seq_key
from chat.store.email_repo import EmailStore
from chat.store.filter_repo import Filters
from chat.store.forward_repo import ForwardedUploads
from chat.store.grant_repo import Grants
from chat.store.hold_repo import Holds
from chat.store.message_repo import InsertOutcome, Messages
from chat.store.personal_repo import PersonalData
from chat.store.policy_repo import Policies
from chat.store.retention_repo import RetentionStore
from chat.store.scheduled_repo import ScheduledMessages
from chat.store.user_repo import Directory
from chat.store.webhook_repo import Webhooks

__all__ = ["Store", "Directory", "Conversations", "Messages", "InsertOutcome", "new_id", "ping_uri",
           "seq_key", "reaction_key", "search_text"]


class Store:
    """The repositories over one database: ``directory`` (users, classes),
    ``conversations`` (conversations, memberships), ``messages`` (messages, edits,
    reactions)."""

    def __init__(self, uri: str, db_name: str, workers: int = 8, timeout_ms: int = 2000,
                 on_error: Optional[Callable[[], None]] = None) -> None:
        self.db = Database(uri, db_name, workers, timeout_ms, on_error)
        self.uri = uri
        self.db_name = db_name
        self.directory = Directory(self.db)
        self.conversations = Conversations(self.db)
        self.messages = Messages(self.db)
        # --- safeguarding: school policy (add below)
        self.policies = Policies(self.db)

        # --- safeguarding: reports and moderation (add below)
        self.cases = Cases(self.db)

        # --- safeguarding: blocks, mutes, slow mode (add below)
        self.blocks = Blocks(self.db)

        # --- safeguarding: word filters (add below)
        self.filters = Filters(self.db)

        # --- oversight: audit log (add below)
        self.audit = AuditEntries(self.db)

        # --- oversight: access grants (add below)
        self.grants = Grants(self.db)

        # --- oversight: retention and holds (add below)
        self.retention = RetentionStore(self.db)
        self.holds = Holds(self.db)

        # --- oversight: export and erasure (add below)
        self.personal = PersonalData(self.db)

        # --- oversight: quiet hours (add below)

        # --- notifications: missed-message email (add below)
        self.email = EmailStore(self.db)

        # --- notifications: webhooks (add below)
        self.webhooks = Webhooks(self.db)

        # --- notifications: bots (add below)
        self.bots = Bots(self.db)

        # --- notifications: scheduled messages (add below)
        self.scheduled = ScheduledMessages(self.db)

        # --- notifications: forwarding (add below)
        self.forwards = ForwardedUploads(self.db)


    async def ensure_indexes(self) -> None:
        """Create every index; idempotent (safe at each start-up)."""
        def work() -> None:
            self.directory.create_indexes()
            self.conversations.create_indexes()
            self.messages.create_indexes()
            # --- safeguarding: school policy (add below)
            self.policies.create_indexes()

            # --- safeguarding: reports and moderation (add below)
            self.cases.create_indexes()

            # --- safeguarding: blocks, mutes, slow mode (add below)
            self.blocks.create_indexes()

            # --- safeguarding: word filters (add below)
            self.filters.create_indexes()

            # --- oversight: audit log (add below)
            self.audit.create_indexes()

            # --- oversight: access grants (add below)
            self.grants.create_indexes()

            # --- oversight: retention and holds (add below)
            self.retention.create_indexes()
            self.holds.create_indexes()

            # --- oversight: export and erasure (add below)
            self.personal.create_indexes()

            # --- oversight: quiet hours (add below)

            # --- notifications: missed-message email (add below)
            self.email.create_indexes()

            # --- notifications: webhooks (add below)
            self.webhooks.create_indexes()

            # --- notifications: bots (add below)
            self.bots.create_indexes()

            # --- notifications: scheduled messages (add below)
            self.scheduled.create_indexes()

            # --- notifications: forwarding (add below)
            self.forwards.create_indexes()

        await self.db.io(work)

    async def ping(self) -> bool:
        """True when storage answers."""
        return await self.db.ping()

    def close(self) -> None:
        """Stop the executor and close the client."""
        self.db.close()

    async def drop_database(self) -> None:
        """Drop the whole database (tests only)."""
        await self.db.drop()
