"""Shared fixtures: one real nx-27017 for the session (or ``--mongodb-uri``/``TEST_MONGODB_URI``
for an external MongoDB), a fresh database per test, and the app on an ephemeral port."""
from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import tornado.httpclient
import tornado.websocket
import ujson

from chat.auth import mint_token
from chat.clock import ManualClock
from chat.ops.embedded import EmbeddedMongo
from chat.ops.roster import import_roster
from chat.runtime import Runtime, build_runtime
from chat.settings import Settings
from handlers.http_server import build_http_server
from handlers.routes import make_app

SECRET = "test-secret-of-sufficient-length-for-hs256"

# The standard school used across tests: s1 with an admin, two teachers, three students in
# two classes; s2 is another school whose users must never be reachable from s1.
USERS = [
    {"id": "a1", "name": "Ada Admin", "role": "admin", "school": "s1"},
    {"id": "t1", "name": "Tom Teacher", "role": "teacher", "school": "s1"},
    {"id": "t2", "name": "Tina Teacher", "role": "teacher", "school": "s1"},
    {"id": "st1", "name": "Sam Student", "role": "student", "school": "s1"},
    {"id": "st2", "name": "Sue Student", "role": "student", "school": "s1"},
    {"id": "st3", "name": "Stan Student", "role": "student", "school": "s1"},
    {"id": "x1", "name": "Xena Teacher", "role": "teacher", "school": "s2"},
    {"id": "x2", "name": "Xavi Student", "role": "student", "school": "s2"},
]
CLASSES = [
    {"id": "c1", "school": "s1", "name": "Maths 7A", "teacherIds": ["t1"], "studentIds": ["st1", "st2"]},
    {"id": "c2", "school": "s1", "name": "Art 7B", "teacherIds": ["t2"], "studentIds": ["st3"]},
    {"id": "cx", "school": "s2", "name": "Other school", "teacherIds": ["x1"], "studentIds": ["x2"]},
]
BY_ID = {u["id"]: u for u in USERS}


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--mongodb-uri", default=os.environ.get("TEST_MONGODB_URI", ""),
                     help="run against this MongoDB instead of a private nx-27017")


@pytest.fixture(scope="session")
def mongo_uri(request: Any) -> Iterator[str]:
    external = request.config.getoption("--mongodb-uri")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="chat-test-db-") as tmp:
        mongo = EmbeddedMongo(tmp, mode="dir", write_state=False)
        mongo.start()
        try:
            yield mongo.uri
        finally:
            mongo.stop()


@pytest.fixture
def settings(request: Any, tmp_path: Any) -> Settings:
    """Test settings; ``@pytest.mark.settings(name=value, ...)`` overrides fields."""
    base = Settings(data_dir=str(tmp_path), db_name="t_" + uuid.uuid4().hex[:12], jwt_secret=SECRET,
                    ws_ping_interval=0, db_workers=4)
    marker = request.node.get_closest_marker("settings")
    return base.replace(**marker.kwargs) if marker else base


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test advances it."""
    return ManualClock()


@pytest.fixture
def runtime(request: Any, io_loop: Any, settings: Settings, mongo_uri: str) -> Iterator[Runtime]:
    """The test server; ``@pytest.mark.manual_clock`` builds it on the ``clock`` fixture."""
    manual = request.getfixturevalue("clock") if request.node.get_closest_marker("manual_clock") else None
    rt = build_runtime(settings, mongo_uri, clock=manual)
    io_loop.run_sync(rt.store.ensure_indexes)
    yield rt
    try:
        io_loop.run_sync(rt.close, timeout=10)  # as the server does at shutdown
        io_loop.run_sync(rt.store.drop_database, timeout=10)
    finally:
        rt.store.close()


@pytest.fixture
def app(runtime: Runtime) -> Any:
    return make_app(runtime)


@pytest.fixture
def http_server(request: Any, io_loop: Any, _unused_port: Any, app: Any, settings: Settings) -> Iterator[Any]:
    """The app behind the same HTTP server the real process uses (limits, read timeouts)."""
    server = build_http_server(app, settings)
    server.add_socket(_unused_port[0])
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=30)


@pytest.fixture
def school(io_loop: Any, runtime: Runtime) -> None:
    """Load the standard roster."""
    io_loop.run_sync(lambda: import_roster(runtime.store, USERS, CLASSES))


def token(user_id: str, settings: Optional[Settings] = None, ttl: int = 3600, **overrides: Any) -> str:
    """A valid token for a roster user (or any id with explicit role/school)."""
    base = dict(BY_ID.get(user_id, {"role": "student", "school": "s1", "name": user_id}))
    base.update(overrides)
    return mint_token(settings or Settings(jwt_secret=SECRET), user_id, base["role"], base["school"],
                      base.get("name", ""), ttl)


class Api:
    """A tiny JSON client for the REST API of the server under test."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.client = tornado.httpclient.AsyncHTTPClient()

    async def call(self, method: str, path: str, user: Optional[str] = None, body: Any = None,
                   raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
                   ) -> Tuple[int, Dict[str, Any]]:
        hdrs = dict(headers or {})
        if user is not None:
            hdrs["Authorization"] = "Bearer " + (user if "." in user else token(user))
        payload = raw if raw is not None else (ujson.dumps(body) if body is not None else None)
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        resp = await self.client.fetch(self.base + path, method=method, headers=hdrs, body=payload,
                                       raise_error=False, allow_nonstandard_methods=True, request_timeout=60)
        text = resp.body.decode("utf-8") if resp.body else ""
        try:
            data = ujson.loads(text) if text else {}
        except ValueError:
            data = {"raw": text}
        return resp.code, data

    async def get(self, path: str, user: Optional[str] = None, **kw: Any) -> Tuple[int, Dict[str, Any]]:
        return await self.call("GET", path, user, **kw)

    async def post(self, path: str, user: Optional[str] = None, body: Any = None, **kw: Any
                   ) -> Tuple[int, Dict[str, Any]]:
        return await self.call("POST", path, user, body, **kw)

    async def patch(self, path: str, user: Optional[str] = None, body: Any = None, **kw: Any
                    ) -> Tuple[int, Dict[str, Any]]:
        return await self.call("PATCH", path, user, body, **kw)

    async def put(self, path: str, user: Optional[str] = None, body: Any = None, **kw: Any
                  ) -> Tuple[int, Dict[str, Any]]:
        return await self.call("PUT", path, user, body, **kw)

    async def delete(self, path: str, user: Optional[str] = None, **kw: Any) -> Tuple[int, Dict[str, Any]]:
        return await self.call("DELETE", path, user, **kw)

    # conveniences
    async def conversation(self, user: str, kind: str, participants: List[str] = (), **fields: Any
                           ) -> Dict[str, Any]:
        body = {"type": kind, "participantIds": list(participants)}
        body.update(fields)
        status, data = await self.post("/api/conversations", user, body)
        assert status in (200, 201), (status, data)
        return data["data"]

    async def send(self, user: str, conversation_id: str, text: str, **fields: Any) -> Dict[str, Any]:
        body = {"text": text}
        body.update(fields)
        status, data = await self.post("/api/conversations/%s/messages" % conversation_id, user, body)
        assert status in (200, 201), (status, data)
        return data["data"]


@pytest.fixture
def api(http_server: Any, base_url: str) -> Api:
    return Api(base_url)


class Ws:
    """A real WebSocket client (Tornado's) that records every frame it receives."""

    def __init__(self, conn: Any, user: str) -> None:
        self.conn = conn
        self.user = user
        self.frames: List[Dict[str, Any]] = []
        self.taken: set = set()
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._refs = 0
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, base_url: str, user: str, tok: Optional[str] = None, ready: bool = True,
                      **kw: Any) -> "Ws":
        url = base_url.replace("http://", "ws://") + "/ws?token=" + (tok or token(user))
        conn = await tornado.websocket.websocket_connect(url, **kw)
        ws = cls(conn, user)
        if ready:
            first = await ws.expect("session:ready")
            assert ws.frames.index(first) == 0, "session:ready must be the first frame"
        return ws

    async def _read(self) -> None:
        while True:
            msg = await self.conn.read_message()
            if msg is None:
                self.closed.set()
                self._arrived.set()
                return
            self.frames.append(ujson.loads(msg))
            self._arrived.set()

    @property
    def close_code(self) -> Optional[int]:
        return self.conn.close_code

    def send(self, event: str, data: Any = None, ref: Optional[str] = None, raw: Optional[str] = None) -> None:
        if raw is None:
            frame: Dict[str, Any] = {"event": event, "data": data if data is not None else {}}
            if ref is not None:
                frame["ref"] = ref
            raw = ujson.dumps(frame)
        self.conn.write_message(raw)

    async def request(self, event: str, data: Any = None, timeout: float = 30) -> Dict[str, Any]:
        """Send with a fresh ref and return the reply frame."""
        self._refs += 1
        ref = "r%d" % self._refs
        self.send(event, data, ref)
        return await self.expect("reply", lambda f: f.get("ref") == ref, timeout)

    async def ok(self, event: str, data: Any = None, timeout: float = 30) -> Any:
        reply = await self.request(event, data, timeout)
        assert reply["ok"] is True, reply
        return reply["data"]

    def _find(self, event: str, pred: Any) -> Optional[Dict[str, Any]]:
        for i, frame in enumerate(self.frames):
            if i not in self.taken and frame.get("event") == event and (pred is None or pred(frame)):
                self.taken.add(i)
                return frame
        return None

    async def expect(self, event: str, pred: Any = None, timeout: float = 30) -> Dict[str, Any]:
        """The first not yet expected ``event`` frame matching ``pred``, waiting for it
        (``timeout`` only bounds a hang: a shared CI machine may be slow)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self._find(event, pred)
            if found is not None:
                return found
            left = deadline - loop.time()
            if left <= 0 or self.closed.is_set():
                raise AssertionError("%s: no %s frame; got %s" % (self.user, event, self.frames[-8:]))
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def barrier(self) -> None:
        """A ``ping`` round trip on this socket. The server handles a socket's frames in order
        and writes every push to the socket's stream as it publishes it, so once the reply is
        here, every frame the server wrote to this socket before handling the ping is here too."""
        await self.ok("ping")

    async def none(self, event: str, pred: Any = None) -> None:
        """Assert that no (not yet expected) ``event`` frame matching ``pred`` has arrived, after a
        :meth:`barrier`. When the frame would come from another connection's action, await that
        action's reply (the server publishes before it replies) before calling this."""
        await self.barrier()
        found = [f for i, f in enumerate(self.frames)
                 if i not in self.taken and f.get("event") == event and (pred is None or pred(f))]
        assert not found, "%s: unexpected %s" % (self.user, found)

    def of(self, event: str) -> List[Dict[str, Any]]:
        return [f for f in self.frames if f.get("event") == event]

    async def close(self) -> None:
        """Close and wait for the server's closing handshake."""
        self.conn.close()
        await asyncio.wait_for(self.closed.wait(), 30)


@pytest.fixture
def ws(http_server: Any, base_url: str) -> Any:
    """``await ws("st1")`` opens a socket as that user; all are closed after the test."""
    opened: List[Ws] = []

    async def connect(user: str, **kw: Any) -> Ws:
        client = await Ws.connect(base_url, user, **kw)
        opened.append(client)
        return client
    yield connect
    for client in opened:
        client.conn.close()
