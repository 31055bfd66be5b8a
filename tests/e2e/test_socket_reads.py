"""A WebSocket's stream stays registered for reads between the parts of a frame
(handlers/tornado_ws.py ``keep_reading``), and stops reading, as Tornado does, once a message's
worth waits in its buffer (TCP then pushes back on the client)."""
from __future__ import annotations

import asyncio
import socket
from typing import List, Optional, Tuple

import tornado.ioloop
import tornado.iostream

from handlers.tornado_ws import keep_reading

READ = tornado.ioloop.IOLoop.READ
FRAME = b"\x81\x85" + b"mask" + b"hello"  # a masked text frame: header, mask, payload


async def _interests(below: Optional[int]) -> List[int]:
    """The read/write interests Tornado asks the loop for while a frame is read in parts."""
    a, b = socket.socketpair()
    a.setblocking(False)
    stream = tornado.iostream.IOStream(a)
    if below is not None:
        keep_reading(stream, below)
    loop = tornado.ioloop.IOLoop.current()
    asked: List[int] = []
    update = loop.update_handler

    def recorded(fd: object, events: int) -> None:
        asked.append(events)
        update(fd, events)  # type: ignore[arg-type]
    loop.update_handler = recorded  # type: ignore[method-assign]
    try:
        for _ in range(3):
            header = stream.read_bytes(2)  # waiting for the next frame, as the protocol does
            b.sendall(FRAME)  # the whole frame arrives in one read event
            assert await header == FRAME[:2]  # the header: the rest stays buffered
            assert await stream.read_bytes(4) == b"mask"
            assert await stream.read_bytes(5) == b"hello"
    finally:
        loop.update_handler = update  # type: ignore[method-assign]
        stream.close()
        b.close()
    return asked


def test_a_socket_stays_registered_for_reads_between_the_parts_of_a_frame() -> None:
    published = asyncio.run(_interests(None))
    assert any(not events & READ for events in published)  # as published: dropped, then asked again
    assert asyncio.run(_interests(1 << 18)) == []  # kept: the interest never changes


def test_with_a_message_buffered_it_stops_reading_as_tornado_does() -> None:
    asked = asyncio.run(_interests(4))  # 9 bytes buffered after the header: past the bound
    assert any(not events & READ for events in asked)


def test_the_kept_stream_keeps_its_own_class_behaviour() -> None:
    async def main() -> None:
        a, b = socket.socketpair()
        stream = tornado.iostream.IOStream(a)
        keep_reading(stream, 100)
        keep_reading(stream, 200)  # again: the same subclass, the new bound
        assert isinstance(stream, tornado.iostream.IOStream) and type(stream).__name__ == "KeepReadingIOStream"
        assert stream.keep_reading_below == 200  # type: ignore[attr-defined]
        assert not stream.reading()
        stream.close()
        b.close()
    asyncio.run(main())


async def _most_buffered(below: int, rounds: int = 60) -> Tuple[int, int]:
    """A client floods a stream whose handler reads nothing more (busy): the most it buffered,
    and its read chunk."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    stream = tornado.iostream.IOStream(a)
    keep_reading(stream, below)
    header = stream.read_bytes(2)
    b.send(FRAME)
    assert await header == FRAME[:2]
    await stream.read_bytes(9)  # the frame is read; now nothing is: the handler is busy
    chunk = b"x" * 65536
    most = 0
    try:
        for _ in range(rounds):
            try:
                while True:
                    b.send(chunk)  # until the kernel's buffers are full
            except BlockingIOError:
                pass
            await asyncio.sleep(0)  # one loop turn: the stream handles what arrived
            most = max(most, stream._read_buffer_size)
    finally:
        stream.close()
        b.close()
    return most, stream.read_chunk_size


def test_a_flood_while_the_handler_is_busy_is_read_a_chunk_a_turn_up_to_the_bound() -> None:
    below = 128 * 1024
    most, chunk = asyncio.run(_most_buffered(below))
    assert below <= most <= below + chunk  # read up to the bound, then TCP pushes back
