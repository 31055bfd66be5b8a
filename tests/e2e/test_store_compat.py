"""Every storage operation the project uses, checked for exact results against the backend
under test (nx-27017 by default, or ``--mongodb-uri``), so drift in the backend is caught.

Some tests pin the backend quirks the store works around (see README "Storage rules").
"""
from __future__ import annotations

import pytest

from chat.errors import Duplicate
from chat.live.unread import UnreadCounter
from chat.store import InsertOutcome, Store, new_id
from chat.store.db import UNSET, has
from chat.store.seq_repo import SeqCounters


@pytest.fixture
def store(runtime) -> Store:
    return runtime.store


def run(io_loop, coro_fn):
    return io_loop.run_sync(coro_fn, timeout=30)


def test_users_upsert_find_and_last_seen(io_loop, store):
    async def work():
        await store.directory.upsert_user("u1", "Alice", "student", "s1", 1000)
        await store.directory.upsert_user("u1", "", "teacher", "s1", 2000)  # no name: keeps the old one
        user = await store.directory.get_user("u1")
        assert user == {"id": "u1", "name": "Alice", "role": "teacher", "school": "s1", "updatedAt": 2000,
                        "createdAt": 1000}
        new = await store.directory.upsert_users([{"id": "u2", "name": "Bob", "role": "student", "school": "s1"},
                                        {"id": "u1", "name": "Alice A", "role": "teacher", "school": "s1"}], 3000)
        assert new == 1
        assert (await store.directory.get_user("u1"))["name"] == "Alice A"
        assert set(await store.directory.get_users(["u1", "u2", "nope"])) == {"u1", "u2"}
        assert [u["id"] for u in await store.directory.find_users("s1", "ALI")] == ["u1"]
        assert [u["id"] for u in await store.directory.find_users("s1", "", "student")] == ["u2"]
        assert [u["id"] for u in await store.directory.find_users("s1", ".*")] == []  # escaped, literal
        assert await store.directory.find_users("s2") == []
        await store.directory.set_last_seen("u1", 5000)
        await store.directory.set_last_seen("u1", 4000)  # $max: never backwards
        assert (await store.directory.get_user("u1"))["lastSeenAt"] == 5000
    run(io_loop, work)


def test_a_roster_larger_than_one_chunk_is_written_in_chunks_and_counted_once(io_loop, store):
    """A whole school's roster goes in several storage commands (never one long hold of the
    database lock); what is new is counted across them, and importing it again adds nothing."""
    from chat.store import user_repo

    async def work():
        users = [{"id": "big%04d" % i, "name": "Pupil %d" % i, "role": "student", "school": "s9"}
                 for i in range(user_repo.CHUNK * 2 + 7)]
        commands = []
        io = store.directory._db.io

        async def counted(fn, *args):
            commands.append(fn)
            return await io(fn, *args)
        store.directory._db.io = counted
        try:
            assert await store.directory.upsert_users(users, 1) == len(users)
            assert len(commands) == 3
            assert await store.directory.upsert_users(users[:10] + [{"id": "big-new", "name": "New", "role": "student",
                                                                    "school": "s9"}], 2) == 1
        finally:
            store.directory._db.io = io
        assert set(await store.directory.get_users(["big0000", "big%04d" % (len(users) - 1), "big-new"])) == {
            "big0000", "big%04d" % (len(users) - 1), "big-new"}
    run(io_loop, work)


def test_classes_by_member_array(io_loop, store):
    async def work():
        n = await store.directory.upsert_classes([
            {"id": "c1", "school": "s1", "name": "A", "teacherIds": ["t1"], "studentIds": ["s1", "s2"]},
            {"id": "c2", "school": "s1", "name": "B", "teacherIds": ["t1", "t2"], "studentIds": ["s3"]}], 1)
        assert n == 2
        assert sorted(c["id"] for c in await store.directory.classes_of_user("t1")) == ["c1", "c2"]
        assert [c["id"] for c in await store.directory.classes_of_user("s2")] == ["c1"]
        assert await store.directory.classes_of_user("zz") == []
        assert (await store.directory.get_class("c2"))["teacherIds"] == ["t1", "t2"]
        assert await store.directory.upsert_classes([{"id": "c1", "school": "s1", "name": "A2", "teacherIds": [],
                                            "studentIds": ["s1"]}], 2) == 0
        assert await store.directory.classes_of_user("s2") == []
    run(io_loop, work)


def _conv(cid, key, **extra):
    doc = {"id": cid, "key": key, "type": "group", "title": "T", "classId": None, "school": "s1",
           "createdBy": "u1", "createdAt": 1, "lastSeq": 0, "lastActivityAt": 1, "lastMessage": None,
           "memberIds": []}
    doc.update(extra)
    return doc


def test_conversation_unique_key_members_and_memberships(io_loop, store):
    async def work():
        cid = new_id()
        conv, created = await store.conversations.insert(_conv(cid, "direct:s1:a:b"))
        assert created and conv["id"] == cid
        again, created = await store.conversations.insert(_conv(new_id(), "direct:s1:a:b"))
        assert not created and again["id"] == cid
        assert await store.conversations.add_members(cid, [("a", "owner"), ("b", "member")], 10) == ["a", "b"]
        assert await store.conversations.add_members(cid, [("b", "member"), ("c", "member")], 11) == ["c"]
        conv = await store.conversations.get(cid)
        assert sorted(conv["memberIds"]) == ["a", "b", "c"]
        assert [c["id"] for c in await store.conversations.of_user("c")] == [cid]
        m = await store.conversations.membership(cid, "a")
        assert m["role"] == "owner" and m["unread"] == 0 and m["lastReadSeq"] == 0 and m["pinnedAt"] is None
        assert sorted(x["userId"] for x in await store.conversations.memberships_of([cid])) == ["a", "b", "c"]
        assert [x["conversationId"] for x in await store.conversations.memberships_of_user("b")] == [cid]
        await store.conversations.set_membership_fields(cid, "a", {"pinnedAt": 99, "mutedUntil": None})
        m = await store.conversations.membership(cid, "a")
        assert m["pinnedAt"] == 99 and m["mutedUntil"] is None
        assert await store.conversations.remove_member(cid, "c") is True
        assert await store.conversations.remove_member(cid, "c") is False
        assert sorted((await store.conversations.get(cid))["memberIds"]) == ["a", "b"]
        await store.conversations.set_fields(cid, {"title": "New"})
        assert (await store.conversations.get(cid))["title"] == "New"
        assert await store.conversations.get("nope") is None
        assert [c["id"] for c in await store.conversations.get_many([cid, "bad", "0" * 24])] == [cid]
    run(io_loop, work)


def _msg(cid, sender, client_id, text="hi", **extra):
    doc = {"id": new_id(), "conversationId": cid, "senderId": sender, "senderName": sender, "type": "text",
           "text": text, "attachments": [], "replyTo": None, "clientMsgId": client_id, "createdAt": 100,
           "editedAt": None, "deletedAt": None}
    doc.update(extra)
    return doc


async def _fill(store, n, **extra):
    """A conversation with members a, b, c and n messages (odd seqs from a, even from b)."""
    cid = new_id()
    await store.conversations.insert(_conv(cid, "conv:" + cid))
    await store.conversations.add_members(cid, [("a", "owner"), ("b", "member"), ("c", "member")], 1)
    docs = [_msg(cid, "a" if i % 2 else "b", "%s-k%d" % (cid, i), "Msg %d (.*)" % i,
                 attachments=[{"name": "f", "size": i}], createdAt=100 + i, seq=i, **extra) for i in range(1, n + 1)]
    await store.messages.insert_batch(docs)
    if n:
        await store.conversations.flush([(cid, n, {"id": docs[-1]["id"], "preview": "m%d" % n}, 100 + n)])
    return cid, [dict(d) for d in docs]


def test_batch_insert_duplicates_and_conversation_flush(io_loop, store):
    async def work():
        cid, stored = await _fill(store, 7)
        conv = await store.conversations.get(cid)
        assert conv["lastSeq"] == 7 and conv["lastActivityAt"] == 107
        assert conv["lastMessage"] == {"id": stored[-1]["id"], "preview": "m7"}
        # $max: a stale flush never moves lastSeq or the activity time backwards
        await store.conversations.flush([(cid, 5, {"id": "old"}, 50)])
        conv = await store.conversations.get(cid)
        assert (conv["lastSeq"], conv["lastActivityAt"], conv["lastMessage"]["preview"]) == (7, 107, "m7")
        assert (await store.messages.newest(cid))["seq"] == 7
        found = await store.messages.find_by_client_id("a", cid + "-k3")
        assert found["seq"] == 3 and "textLower" not in found and found["reactionKeys"] == []
        assert await store.messages.find_by_client_id("b", cid + "-k3") is None
        # the unique indexes refuse a retry or a taken seq, and say where and which
        batch = [_msg(cid, "c", "new-8", seq=8), _msg(cid, "a", cid + "-k3", seq=9), _msg(cid, "c", "new-10", seq=10)]
        assert await store.messages.insert_batch(batch) == InsertOutcome(1, 1, "duplicate_client")
        assert (await store.messages.newest(cid))["seq"] == 8  # ordered: before it stored, after it not
        assert await store.messages.insert_batch([_msg(cid, "a", "fresh", seq=7)]) == InsertOutcome(0, 0, "duplicate_seq")
        # a document the database cannot store (a lone surrogate) is refused alone, before anything is sent
        bad = [_msg(cid, "c", "new-9", seq=9), _msg(cid, "c", "bad", "\ud800", seq=10), _msg(cid, "c", "n11", seq=11)]
        assert await store.messages.insert_batch(bad) == InsertOutcome(1, 1, "invalid")
        assert (await store.messages.newest(cid))["seq"] == 9
        assert await store.messages.stored_ids([bad[0]["id"], bad[1]["id"], "x"]) == {bad[0]["id"]}
        got = await store.messages.get(stored[0]["id"])
        assert got["attachments"] == [{"name": "f", "size": 1}] and got["text"] == "Msg 1 (.*)"
        assert got["seq"] == 1 and "seqKey" in got
        assert await store.messages.get("nope") is None and await store.messages.get("0" * 24) is None
        assert await store.messages.newest(new_id()) is None
    run(io_loop, work)


def test_import_messages_reserves_a_contiguous_block(io_loop, store):
    async def work():
        cid, _ = await _fill(store, 2)
        docs = [_msg(cid, "a", "imp-%d" % i, "old %d" % i) for i in range(5)]
        first = await store.conversations.reserve_seqs(cid, len(docs))
        assert first == 3 and (await store.conversations.get(cid))["lastSeq"] == 7
        await store.messages.insert_imported(cid, first, docs)
        assert [m["text"] for m in await store.messages.history(cid, None, 2, 10)] == ["old %d" % i for i in range(5)]
        assert [m["seq"] for m in await store.messages.history(cid, None, 2, 10)] == [3, 4, 5, 6, 7]
    run(io_loop, work)


def test_seq_counters_reserve_per_school_raise_and_go_back_only_while_nobody_reserved_after(io_loop, store):
    async def work():
        conv, other = new_id(), new_id()
        counters = SeqCounters(store.db)
        # one command for a school's conversations; the school's document is made on first use
        assert await counters.reserve({"s1": {conv: 3, other: 2}}) == {conv: 1, other: 1}  # 1..3, 1..2
        assert await counters.give_back("s1", conv, 3, 2) is True  # 2..3 back: the next is 2
        assert await counters.reserve({"s1": {conv: 1}}) == {conv: 2}
        elsewhere = new_id()  # another school's conversation, in the same job
        assert await counters.reserve({"s1": {conv: 1}, "s2": {elsewhere: 4}}) == {conv: 3, elsewhere: 1}
        assert await counters.give_back("s1", conv, 2, 1) is False  # 3 was reserved after 2
        assert await counters.reserve({"s1": {conv: 1}}) == {conv: 4}
        await counters.raise_to({"s1": {conv: 2, other: 9}, "s3": {conv: 5}})  # $max: never down
        assert await counters.reserve({"s1": {conv: 1, other: 1}}) == {conv: 5, other: 10}
        assert await counters.reserve({"s3": {conv: 1}}) == {conv: 6}
    run(io_loop, work)


def test_history_pages_by_seq(io_loop, store):
    async def work():
        cid, _ = await _fill(store, 12)
        other, _ = await _fill(store, 3)  # another conversation must never leak in
        seqs = lambda docs: [m["seq"] for m in docs]  # noqa: E731
        assert seqs(await store.messages.history(cid, None, None, 5)) == [8, 9, 10, 11, 12]
        assert seqs(await store.messages.history(cid, 8, None, 5)) == [3, 4, 5, 6, 7]
        assert seqs(await store.messages.history(cid, 3, None, 5)) == [1, 2]
        assert seqs(await store.messages.history(cid, None, 0, 4)) == [1, 2, 3, 4]
        assert seqs(await store.messages.history(cid, None, 10, 5)) == [11, 12]
        assert seqs(await store.messages.history(cid, 6, 2, 10)) == [3, 4, 5]
        assert seqs(await store.messages.history(cid, None, 12, 5)) == []
        assert all(m["conversationId"] == cid for m in await store.messages.history(cid, None, 0, 100))
        assert seqs(await store.messages.history(other, None, None, 10)) == [1, 2, 3]
    run(io_loop, work)


def test_edit_delete_and_changed_since(io_loop, store):
    async def work():
        cid, stored = await _fill(store, 4)
        first = stored[0]  # from "a"
        assert await store.messages.edit(first["id"], "b", "nope", 500) is None  # not the sender
        edited = await store.messages.edit(first["id"], "a", "fixed", 500)
        assert edited["text"] == "fixed" and edited["editedAt"] == 500 and edited["seq"] == 1
        audit = await store.db.io(lambda: list(store.messages.edits.find({"messageId": first["id"]}, {"_id": 0})))
        assert audit == [{"messageId": first["id"], "conversationId": cid, "text": "Msg 1 (.*)", "editorId": "a",
                          "editedAt": 500}]
        # unread: c has read nothing and counted everything (messages 1,3 from a, 2,4 from b)
        counter = UnreadCounter(store, chunk=2)
        m = await counter.settle(await store.conversations.membership(cid, "c"), 4)
        assert m["unread"] == 4 and m["unreadSeq"] == 4
        deleted = await store.messages.soft_delete(stored[2]["id"], "a", 600)
        assert deleted["deletedAt"] == 600 and deleted["deletedBy"] == "a" and deleted["text"] == "Msg 3 (.*)"
        assert await store.messages.soft_delete(stored[2]["id"], "a", 700) is None  # already deleted
        await store.conversations.uncount_deleted(cid, "a", 3, [])
        assert (await store.conversations.membership(cid, "c"))["unread"] == 3  # decremented for those who had counted it
        assert (await store.conversations.membership(cid, "b"))["unread"] == 0  # b never counted it: nothing to undo
        assert await store.messages.edit(stored[2]["id"], "a", "again", 800) is None  # deleted: no edit
        changed = await store.messages.changed_since([cid], 400, 100)
        assert [(m["seq"], m["updatedAt"]) for m in changed] == [(1, 500), (3, 600)]
        assert await store.messages.changed_since([cid], 600, 100) == []
        assert await store.messages.changed_since([], 0, 100) == []
    run(io_loop, work)


def test_markers_move_forward_only(io_loop, store):
    async def work():
        cid, stored = await _fill(store, 6)  # a sent 1,3,5; b sent 2,4,6
        m = await store.conversations.advance_marker(cid, "c", "read", 4, 1000)
        assert (m["lastReadSeq"], m["lastReadAt"], m["lastDeliveredSeq"]) == (4, 1000, 4)
        m = await store.conversations.advance_marker(cid, "c", "read", 2, 2000)  # never backwards
        assert (m["lastReadSeq"], m["lastReadAt"]) == (4, 1000)
        m = await store.conversations.advance_marker(cid, "b", "delivered", 5, 3000)
        assert (m["lastDeliveredSeq"], m["lastDeliveredAt"], m["lastReadSeq"]) == (5, 3000, 0)
        m = await store.conversations.advance_marker(cid, "b", "delivered", 3, 4000)
        assert (m["lastDeliveredSeq"], m["lastDeliveredAt"]) == (5, 3000)
        assert await store.conversations.advance_marker(cid, "zz", "read", 1, 1) is None
    run(io_loop, work)


def test_unread_counts_only_what_changed_and_is_exact(io_loop, store):
    async def work():
        cid, stored = await _fill(store, 4)  # a: 1,3  b: 2,4
        counter = UnreadCounter(store, chunk=2)
        b = await store.conversations.membership(cid, "b")
        assert (b["unread"], b["unreadSeq"]) == (0, 0)
        await counter.settle(b, 4)
        assert (b["unread"], b["unreadSeq"]) == (2, 4)
        more = [_msg(cid, "a", "x5", seq=5), _msg(cid, "a", "x6", type="system", seq=6),
                _msg(cid, "b", "x7", seq=7), _msg(cid, "a", "x8", seq=8, deletedAt=9)]
        await store.messages.insert_batch(more)
        await counter.settle(b, 8)  # counts 5..8 only: +1 (system, own and deleted do not count)
        assert (b["unread"], b["unreadSeq"]) == (3, 8)
        stored_b = await store.conversations.membership(cid, "b")
        assert (stored_b["unread"], stored_b["unreadSeq"]) == (3, 8)
        stale = dict(stored_b, unreadSeq=4, unread=2)  # a second request that read it earlier
        await counter.settle(stale, 8)
        assert (stale["unread"], stale["unreadSeq"]) == (3, 8)  # not counted twice
        assert (await store.conversations.membership(cid, "b"))["unread"] == 3
        # reading up to 3 subtracts only seqs 1..3 (1 and 3 from a): 3 - 2 = 1 (seq 5)
        await store.conversations.advance_marker(cid, "b", "read", 3, 50)
        after = await counter.settle(await store.conversations.membership(cid, "b"), 8)
        assert (after["unread"], after["unreadFrom"], after["lastReadSeq"]) == (1, 3, 3)
        late = await store.conversations.add_members(cid, [("d", "member")], 5, read_upto=8)
        d = await store.conversations.membership(cid, "d")
        assert late == ["d"] and (d["lastReadSeq"], d["unreadSeq"], d["unread"]) == (8, 8, 0)
    run(io_loop, work)


def test_unread_count_costs_the_range_not_the_conversation(io_loop, store):
    """The counter only ever queries seq ranges it has not counted, in chunks."""
    async def work():
        cid, _ = await _fill(store, 40)
        counter = UnreadCounter(store, chunk=5)
        asked = []
        real = store.messages.count_countable

        async def spy(conv, user, after, upto):
            asked.append((after, upto))
            return await real(conv, user, after, upto)
        store.messages.count_countable = spy
        try:
            c = await counter.settle(await store.conversations.membership(cid, "c"), 40)
            assert c["unread"] == 40 and all(upto - after <= 5 for after, upto in asked)
            asked.clear()
            await store.conversations.advance_marker(cid, "c", "read", 37, 1)
            c = await counter.settle(await store.conversations.membership(cid, "c"), 40)
            assert c["unread"] == 3 and asked == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 25), (25, 30),
                                                   (30, 35), (35, 37)]
            asked.clear()
            await store.conversations.advance_marker(cid, "c", "read", 38, 1)
            c = await counter.settle(await store.conversations.membership(cid, "c"), 40)
            assert c["unread"] == 2 and asked == [(37, 38)]  # one seq read: one seq counted
        finally:
            del store.messages.count_countable
    run(io_loop, work)


def test_search_range_is_literal_lowercase_and_scoped(io_loop, store):
    async def work():
        cid, stored = await _fill(store, 7)
        other, _ = await _fill(store, 2)
        hits = await store.messages.search_range(cid, 0, 8, "msg 2", 10)
        assert [m["seq"] for m in hits] == [2] and "textLower" not in hits[0]
        hits = await store.messages.search_range(cid, 0, 8, "(.*)", 10)  # regex characters match literally
        assert [m["seq"] for m in hits] == [7, 6, 5, 4, 3, 2, 1]  # newest first
        assert [m["seq"] for m in await store.messages.search_range(cid, 2, 6, "msg", 10)] == [5, 4, 3]  # open range
        assert [m["seq"] for m in await store.messages.search_range(cid, 0, 8, "msg", 3)] == [7, 6, 5]  # the limit
        assert await store.messages.search_range(cid, 0, 8, "m.g", 10) == []
        assert [m["conversationId"] for m in await store.messages.search_range(other, 0, 8, "msg", 10)] == [other] * 2
        await store.messages.soft_delete(stored[1]["id"], "a", 5)
        assert [m["seq"] for m in await store.messages.search_range(cid, 0, 8, "msg", 10)] == [7, 6, 5, 4, 3, 1]
        await store.messages.edit(stored[0]["id"], "a", "Now ABOUT Cats", 6)
        assert [m["seq"] for m in await store.messages.search_range(cid, 0, 8, "about cats", 10)] == [1]
    run(io_loop, work)


def test_reactions_unique_cap_and_grouping(io_loop, store):
    from chat.rules.render import reactions

    async def work():
        cid, stored = await _fill(store, 1)
        mid = stored[0]["id"]
        thumbs, heart = "\U0001F44D", "\u2764\ufe0f"
        added, after = await store.messages.insert_reaction(mid, cid, "a", thumbs, 10)
        assert added and reactions(after) == {thumbs: ["a"]} and after["updatedAt"] == 10
        assert (await store.messages.insert_reaction(mid, cid, "a", thumbs, 11))[0] is False
        assert (await store.messages.insert_reaction(mid, cid, "b", thumbs, 12))[0] is True
        assert (await store.messages.insert_reaction(mid, cid, "a", heart, 13))[0] is True
        msg = await store.messages.get(mid)
        assert reactions(msg) == {thumbs: ["a", "b"], heart: ["a"]} and msg["updatedAt"] == 13
        records = await store.db.io(lambda: list(store.messages.reactions.find({"messageId": mid}).sort("createdAt", 1)))
        assert [(r["userId"], r["emoji"]) for r in records] == [("a", thumbs), ("b", thumbs), ("a", heart)]
        removed, after = await store.messages.remove_reaction(mid, "a", thumbs, 20)
        assert removed and reactions(after) == {thumbs: ["b"], heart: ["a"]}
        assert (await store.messages.remove_reaction(mid, "a", thumbs, 21))[0] is False
        with pytest.raises(Duplicate):  # the collection's unique index backs the check
            await store.db.io(lambda: store.messages.reactions.insert_one({"messageId": mid, "userId": "b", "emoji": thumbs}))
    run(io_loop, work)


def test_backend_quirks_the_store_relies_on(io_loop, store):
    """Pin the workarounds: ``{"$in": [None]}`` counts null/missing fields on both backends."""
    async def work():
        await store.db.io(lambda: store.messages.edits.insert_many([{"k": 1, "d": None}, {"k": 2}, {"k": 3, "d": 5}]))
        count = await store.db.io(lambda: store.messages.edits.count_documents({"d": UNSET}))
        found = await store.db.io(lambda: sorted(x["k"] for x in store.messages.edits.find({"d": UNSET})))
        assert count == 2 and found == [1, 2]
        # the store never writes booleans or datetimes by update; ints round-trip exactly
        await store.db.io(lambda: store.messages.edits.update_one({"k": 3}, {"$set": {"t": 1700000000123}, "$inc": {"n": 2}}))
        doc = await store.db.io(lambda: store.messages.edits.find_one({"k": 3}, {"_id": 0}))
        assert doc == {"k": 3, "d": 5, "t": 1700000000123, "n": 2}
        # $addToSet creates no missing array on nx-27017: the store creates arrays at insert
        await store.db.io(lambda: store.messages.edits.update_one({"k": 3}, {"$addToSet": {"arr": "a"}}))
        await store.db.io(lambda: store.messages.edits.update_one({"k": 2}, {"$set": {"arr": []}}))
        await store.db.io(lambda: store.messages.edits.update_one({"k": 2}, {"$addToSet": {"arr": "a"}}))
        assert (await store.db.io(lambda: store.messages.edits.find_one({"k": 2})))["arr"] == ["a"]
        # membership in an indexed array field: the store always asks with $in
        found = await store.db.io(lambda: [c["_id"] for c in store.directory.classes.find({"teacherIds": has("t9")})])
        assert found == []
        await store.directory.upsert_classes([{"id": "q1", "school": "s", "name": "n", "teacherIds": ["t9"], "studentIds": []}], 1)
        found = await store.db.io(lambda: [c["_id"] for c in store.directory.classes.find({"teacherIds": has("t9")})])
        assert found == ["q1"]
    run(io_loop, work)
