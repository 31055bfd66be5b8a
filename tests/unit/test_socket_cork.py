"""The hub corks: a socket's frames of one event-loop turn go out in one write, in order, each
still a frame of its own; a close writes what was queued before the close frame."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, List

from chat.clock import ManualClock
from chat.metrics import Metrics
from handlers.ws import Link, SocketHub, text_frame


class _Socket:
    def __init__(self, log: List[Any], name: str) -> None:
        self.log = log
        self.name = name

    def send(self, data: Any) -> int:
        self.log.append((self.name, bytes(data)))
        return len(data)


class _Stream:
    def __init__(self, log: List[Any], name: str) -> None:
        self.socket = _Socket(log, name)

    def writing(self) -> bool:
        return False

    def write(self, data: Any) -> None:
        raise AssertionError("the kernel took everything: nothing goes through the buffer")


class _Connection:
    def is_closing(self) -> bool:
        return False


class _Handler:
    def __init__(self, log: List[Any], name: str) -> None:
        self.ws_connection = _Connection()
        self.log = log
        self.name = name

    def close(self, code: int, reason: str) -> None:
        self.log.append((self.name, "close", code))


def _hub(log: List[Any], *names: str) -> SocketHub:
    metrics = Metrics(process=False)
    settings = SimpleNamespace(ws_ping_interval=30.0, ws_ping_timeout=10.0, ws_max_pending_bytes=1 << 20)
    runtime = SimpleNamespace(settings=settings, clock=ManualClock(), metrics=metrics,
                              realtime=SimpleNamespace(set_transport=lambda t: None))
    hub = SocketHub(runtime)  # type: ignore[arg-type]
    for name in names:
        link = Link(name, None, _Handler(log, name))  # type: ignore[arg-type]
        link.stream = _Stream(log, name)  # type: ignore[assignment]
        link.direct = True
        hub.add(link)
    return hub


def _metric(hub: SocketHub, name: str) -> float:
    for line in hub.runtime.metrics.render().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(name)


def test_one_write_per_socket_per_turn_in_order() -> None:
    async def main() -> None:
        log: List[Any] = []
        hub = _hub(log, "a", "b")
        hub.send_many(["a", "b"], '{"n":1}')
        hub.send_many(["a"], b'{"n":2}')
        hub.send("b", '{"n":3}')
        assert log == []  # nothing written until the turn ends
        await asyncio.sleep(0)
        assert sorted(log) == [("a", text_frame(b'{"n":1}') + text_frame(b'{"n":2}')),
                               ("b", text_frame(b'{"n":1}') + text_frame(b'{"n":3}'))]
        assert _metric(hub, "chat_ws_frames_total") == 4 and _metric(hub, "chat_ws_writes_total") == 2
        hub.send("a", '{"n":4}')  # a later turn: a write of its own
        await asyncio.sleep(0)
        assert log[-1] == ("a", text_frame(b'{"n":4}'))
    asyncio.run(main())


def test_close_writes_the_queued_frames_first_and_only_once() -> None:
    async def main() -> None:
        log: List[Any] = []
        hub = _hub(log, "a")
        hub.send("a", '{"error":"too many sockets"}')
        hub.close("a", 4029, "too many sockets")
        assert log == [("a", text_frame(b'{"error":"too many sockets"}')), ("a", "close", 4029)]
        await asyncio.sleep(0)
        assert len(log) == 2  # the turn's flush finds nothing left for it
        assert _metric(hub, "chat_ws_frames_total") == 1 and _metric(hub, "chat_ws_writes_total") == 1
    asyncio.run(main())


def test_a_gone_socket_gets_nothing_queued() -> None:
    async def main() -> None:
        log: List[Any] = []
        hub = _hub(log, "a", "b")
        hub.handlers["a"].gone = True
        hub.send_many(["a", "b", "nobody"], '{"n":1}')
        await asyncio.sleep(0)
        assert log == [("b", text_frame(b'{"n":1}'))]
    asyncio.run(main())
