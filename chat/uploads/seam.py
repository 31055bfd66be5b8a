"""What the upload package needs from the store, in one place: the executor seam (blocking
pymongo work runs only through it), collection handles, and two reads of the message side.

``store.db`` is the :class:`chat.store.db.Database` seam (``io``, ``collection``); the
repositories ``store.messages`` and ``store.conversations`` answer the two reads.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, TypeVar, cast

T = TypeVar("T")


class StoreSeam:
    """``io(fn, *args)``, ``collection(name)``, ``find_message(sender_id, client_msg_id)`` and
    ``is_member(conversation_id, user_id)`` over the store."""

    def __init__(self, store: Any) -> None:
        self._io: Callable[..., Awaitable[Any]] = store.db.io
        self.collection: Callable[[str], Any] = store.db.collection
        self._find = store.messages.find_by_client_id
        self._membership = store.conversations.membership

    async def io(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking storage work in the store's executor (failures become ``Unavailable``)."""
        return cast(T, await self._io(fn, *args))

    async def find_message(self, sender_id: str, client_msg_id: str) -> Optional[Dict[str, Any]]:
        """The message a sender stored under a clientMsgId, or None."""
        return cast(Optional[Dict[str, Any]], await self._find(sender_id, client_msg_id))

    async def is_member(self, conversation_id: str, user_id: str) -> bool:
        """Whether the user takes part in the conversation."""
        return await self._membership(conversation_id, user_id) is not None
