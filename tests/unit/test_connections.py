"""Unit tests of the connection manager and the pure realtime pieces, without sockets."""
from __future__ import annotations

from typing import Dict, List, Tuple

from hypothesis import given, settings as hsettings, strategies as st

from chat.clock import ManualClock
from chat.presence.relation import OnlineIndex, Presence
from chat.ratelimit import Limit, RateLimiter, TokenBucket
from chat.realtime.connections import ConnectionManager
from chat.realtime.typing import TypingTracker
from chat.settings import Settings


def presence(uid: str, role: str = "student", school: str = "s1", classes=()) -> Presence:
    return Presence(uid, uid.upper(), role, school, frozenset(classes))


def recorder() -> Tuple[ConnectionManager, List[Tuple[str, str]]]:
    sent: List[Tuple[str, str]] = []
    return ConnectionManager(lambda conns, frame: sent.extend((conn, frame) for conn in conns)), sent


def test_first_and_last_connection_and_empty_buckets():
    m, _ = recorder()
    assert m.add("c1", presence("u", classes=["k1", "k2"])) is True
    assert m.add("c2", presence("u", classes=["k1", "k2"])) is False  # phone + web
    assert m.by_user == {"u": {"c1", "c2"}} and m.online.by_class == {"k1": {"u"}, "k2": {"u"}}
    assert m.remove("c1")[1] is False and "u" in m.online
    p, last = m.remove("c2")
    assert last is True and p.user_id == "u"
    o = m.online
    assert (m.by_user, m.users, o.by_school, o.by_school_role, o.by_class, m.connections) == ({}, {}, {}, {}, {}, {})
    assert m.remove("c2") == (None, False)


def test_publish_serializes_once_and_reaches_every_connection():
    m, sent = recorder()
    m.add("a1", presence("a"))
    m.add("a2", presence("a"))
    m.add("b1", presence("b"))
    assert m.publish("message:new", {"x": "é/"}, ["a", "b", "offline"]) == 3
    frames = {frame for _, frame in sent}
    assert len(frames) == 1 and frames.pop() == '{"event":"message:new","data":{"x":"é/"}}'
    assert sorted(conn for conn, _ in sent) == ["a1", "a2", "b1"]
    assert m.publish("x", {}, ["nobody"]) == 0


def test_presence_rules():
    index = OnlineIndex()
    contacts: Dict[str, set] = {}
    people = {
        "st1": presence("st1", classes=["c1"]), "st2": presence("st2", classes=["c1"]),
        "st3": presence("st3", classes=["c2"]), "t1": presence("t1", "teacher", classes=["c1"]),
        "t2": presence("t2", "teacher", classes=["c2"]), "a1": presence("a1", "admin"),
        "x1": presence("x1", "teacher", "s2", classes=["cx"]), "x9": presence("x9", "admin", "s2"),
    }
    for p in people.values():
        index.add(p)

    def audience(p: Presence):
        return index.peers(p, contacts.get(p.user_id, set()))

    def link(ids):  # a direct or group conversation joins them (the contacts index's job)
        for uid in ids:
            contacts.setdefault(uid, set()).update(u for u in ids if u != uid)

    see = {uid: audience(p) for uid, p in people.items()}
    assert see["st1"] == {"st2", "t1", "a1"}
    assert see["t1"] == {"st1", "st2", "t2", "a1"}
    assert see["a1"] == {"st1", "st2", "st3", "t1", "t2"}
    assert see["x1"] == {"x9"}
    for viewer, seen in see.items():  # the relation is symmetric
        for other in seen:
            assert viewer in see[other], (viewer, other)
    link(["st1", "st3"])
    assert "st3" in audience(people["st1"]) and "st1" in audience(people["st3"])
    link(["st1", "x1"])  # a contact across schools still never sees presence
    assert "x1" not in audience(people["st1"])


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 7), st.integers(0, 5)), max_size=80))
def test_random_open_close_keeps_indexes_consistent(ops):
    """Random opens and closes: every index always agrees with the live connections, and all
    are empty once every connection is closed."""
    m, _ = recorder()
    users = {i: presence("u%d" % i, ("student", "teacher", "admin")[i % 3], "s%d" % (i % 2),
                         classes=["k%d" % (i % 3), "k%d" % (i % 4)]) for i in range(6)}
    live: Dict[str, int] = {}
    counter = 0
    for is_open, pick, user in ops:
        if is_open or not live:
            counter += 1
            conn = "c%d" % counter
            live[conn] = user
            m.add(conn, users[user])
        else:
            conn = sorted(live)[pick % len(live)]
            del live[conn]
            m.remove(conn)
        online = {users[u].user_id for u in live.values()}
        assert set(m.users) == online
        assert {c: m.connections[c] for c in m.connections} == {c: users[u].user_id for c, u in live.items()}
        o = m.online
        assert all(m.by_user.values()) and all(o.by_school.values()) and all(o.by_class.values())
        assert set().union(*o.by_school.values()) == online if online else o.by_school == {}
        for (school, role), ids in o.by_school_role.items():
            assert ids == {u for u in online if m.users[u].school == school and m.users[u].role == role}
        for class_id, ids in o.by_class.items():
            assert ids == {u for u in online if class_id in m.users[u].class_ids}
    for conn in list(live):
        m.remove(conn)
    o = m.online
    assert (m.by_user, m.users, o.by_school, o.by_school_role, o.by_class, m.connections) == ({}, {}, {}, {}, {}, {})


def test_token_bucket():
    b = TokenBucket(rate=2, burst=3, now=10.0)
    assert [b.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert b.wait(10.0) == 0.5
    assert b.take(10.5) is True and b.take(10.5) is False
    assert b.take(110.0) is True and b.tokens == 2  # never more than the burst
    assert b.full(111.0) and not b.full(110.0)


def test_rate_limiter_is_per_user_survives_reconnects_and_prunes_full_buckets():
    clock = ManualClock()
    limiter = RateLimiter(Settings(rate_messages=1, rate_messages_burst=2), clock)
    assert [limiter.take("u", Limit.SEND) for _ in range(3)] == [True, True, False]
    assert limiter.take("v", Limit.SEND) is True  # another user has its own bucket
    assert limiter.retry_after("u", Limit.SEND) == 1.0
    limiter.prune()  # nothing is full yet: a reconnect refills nothing
    assert limiter.take("u", Limit.SEND) is False
    clock.advance(1.0)
    assert limiter.take("u", Limit.SEND) is True and limiter.take("u", Limit.SEND) is False
    clock.advance(60)
    limiter.prune()
    assert len(limiter) == 0


def test_typing_tracker_debounce_and_timeout():
    out: List[Tuple[bool, Dict, List[str]]] = []
    clock = ManualClock()
    t = TypingTracker(lambda started, d, u: out.append((started, d, list(u))), clock, timeout=5, debounce=2)
    t.start("c", "u1", "U1", ["u1", "u2"])
    clock.advance(1)
    t.start("c", "u1", "U1", ["u1", "u2"])  # within the debounce: not re-sent, but the timeout restarts
    assert [e for e, _, _ in out] == [True] and out[0][2] == ["u2"]
    clock.advance(4.5)  # 5.5 s after the first start, 4.5 after the second: still typing
    assert t.is_typing("c", "u1") and len(out) == 1
    t.start("c", "u1", "U1", ["u1", "u2"])  # past the debounce: re-sent
    assert [e for e, _, _ in out] == [True, True]
    clock.advance(5)
    assert [e for e, _, _ in out] == [True, True, False]
    assert not t.is_typing("c", "u1") and t._by_user == {} and clock.pending() == 0
    t.start("c", "u1", "U1", ["u1", "u2"])
    t.start("d", "u1", "U1", ["u1", "u3"])
    t.stop_user("u1")
    assert [e for e, _, _ in out][-2:] == [False, False] and t._typing == {} and clock.pending() == 0
