"""Who is typing where.

``typing:start`` is broadcast at most once per ``debounce`` seconds per (conversation, user),
and the server itself sends ``typing:stop`` after ``timeout`` seconds without a new start,
when the typist's message is stored, or when its last connection closes.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from chat.clock import Clock, Timer

#: (started, data, receivers): started is True for typing:start, False for typing:stop
Announce = Callable[[bool, Dict[str, Any], Sequence[str]], Any]


@dataclasses.dataclass(slots=True)
class _Typist:
    name: str
    others: List[str]
    last_sent: float
    timer: Optional[Timer] = None


class TypingTracker:
    def __init__(self, announce: Announce, clock: Clock, timeout: float, debounce: float) -> None:
        self._announce = announce
        self.clock = clock
        self.timeout = timeout
        self.debounce = debounce
        self._typing: Dict[Tuple[str, str], _Typist] = {}
        self._by_user: Dict[str, Set[str]] = {}

    def start(self, conversation_id: str, user_id: str, name: str, members: Iterable[str]) -> None:
        key = (conversation_id, user_id)
        now = self.clock.monotonic()
        state = self._typing.get(key)
        if state is None:
            state = self._typing[key] = _Typist(name, [m for m in members if m != user_id], float("-inf"))
            self._by_user.setdefault(user_id, set()).add(conversation_id)
        if state.timer is not None:
            state.timer.cancel()
        state.timer = self.clock.call_later(self.timeout, self.stop, conversation_id, user_id)
        if now - state.last_sent >= self.debounce:
            state.last_sent = now
            self._announce(True, {"conversationId": conversation_id, "userId": user_id, "name": name},
                           state.others)

    def stop(self, conversation_id: str, user_id: str) -> None:
        state = self._typing.pop((conversation_id, user_id), None)
        if state is None:
            return
        if state.timer is not None:
            state.timer.cancel()
        convs = self._by_user.get(user_id)
        if convs is not None:
            convs.discard(conversation_id)
            if not convs:
                del self._by_user[user_id]
        self._announce(False, {"conversationId": conversation_id, "userId": user_id, "name": state.name},
                       state.others)

    def stop_user(self, user_id: str) -> None:
        for conversation_id in list(self._by_user.get(user_id, ())):
            self.stop(conversation_id, user_id)

    def is_typing(self, conversation_id: str, user_id: str) -> bool:
        return (conversation_id, user_id) in self._typing
