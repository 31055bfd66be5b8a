#!/usr/bin/env python3
"""The ceiling: a bare Tornado WebSocket relay with rooms (no auth, no storage), under the same
workload as the chat server. Each frame is parsed once, re-serialized once and written to every
member of its room, the sender included, as the chat server does.

    python bench/ceiling.py --port 9000
"""
import argparse
import asyncio
import signal
from collections import defaultdict

import tornado.web
import tornado.websocket
import ujson

rooms = defaultdict(set)


class Relay(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True

    def open(self):
        self.set_nodelay(True)
        self.room = self.get_query_argument("room")
        rooms[self.room].add(self)

    def on_message(self, message):
        frame = ujson.loads(message)
        data = frame["data"]
        out = ujson.dumps({"event": "message:new", "data": data}, ensure_ascii=False)
        for member in rooms[data["conversationId"]]:
            member.write_message(out)

    def on_close(self):
        rooms[self.room].discard(self)
        if not rooms[self.room]:
            del rooms[self.room]


async def main(port):
    app = tornado.web.Application([(r"/ws", Relay)], websocket_max_message_size=65536)
    # the chat server's listen queue, so that a reconnect storm compares the two, not the queues
    app.listen(port, "127.0.0.1", backlog=4096)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for members in list(rooms.values()):  # as the chat server does on SIGTERM: 1001 to every socket
        for member in list(members):
            member.close(1001, "server shutting down")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9000)
    asyncio.run(main(parser.parse_args().port))
