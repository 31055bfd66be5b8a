"""Legal holds over the uploads lifecycle (README "Export and erasure", "Uploads"): the upload
sweep that removes never-attached files and the files of deleted messages after their age
keeps every one a hold covers (its owner held, or the conversation it was sent into), pages
past them, and removes them at the first sweep after the release (real server, real nx-27017)."""
from __future__ import annotations

from typing import Any

import pytest

from chat.timeutil import now_ms
from chat.uploads import lifecycle
from tests.conftest import token
from tests.e2e.uploads_helpers import PDF, upload

pytestmark = pytest.mark.usefixtures("school", "http_server")

HOUR = 3600_000
DAY = 24 * HOUR
MSGS = "/api/conversations/%s/messages"
REASON = {"reason": "investigation 2026-14 (police request)"}


async def attached_then_deleted(api: Any, user: str, conv_id: str, name: str) -> str:
    _, up = await upload(api, user, PDF + name.encode(), name, "application/pdf")
    status, sent = await api.post(MSGS % conv_id, token(user), {
        "type": "file", "text": "file", "attachments": [{"uploadId": up["data"]["id"]}]})
    assert status == 201, sent
    assert (await api.delete("/api/messages/%s" % sent["data"]["id"], token(user)))[0] == 200
    return up["data"]["id"]


@pytest.mark.settings(upload_retention_days=30)
@pytest.mark.gen_test
async def test_the_upload_sweep_keeps_what_a_hold_covers_until_it_is_released(api, runtime, monkeypatch):
    monkeypatch.setattr(lifecycle, "PAGE", 2)  # held ones fill whole pages: the sweep pages past them
    uploads = runtime.uploads
    held_conv = await api.conversation("st2", "group", ["st3"], title="Held")
    free_conv = await api.conversation("st2", "direct", ["st3"])
    user_orphans = [(await upload(api, "st1", PDF + b"%d" % i, "o%d.pdf" % i, "application/pdf"))[1]["data"]["id"]
                    for i in range(3)]
    other_orphan = (await upload(api, "st2", PDF + b"free", "free.pdf", "application/pdf"))[1]["data"]["id"]
    in_held = await attached_then_deleted(api, "st2", held_conv["id"], "held.pdf")
    in_free = await attached_then_deleted(api, "st2", free_conv["id"], "free2.pdf")
    assert (await api.put("/api/holds/users/st1", token("a1"), REASON))[0] == 200
    assert (await api.put("/api/holds/conversations/" + held_conv["id"], token("a1"), REASON))[0] == 200
    later = now_ms() + 31 * DAY
    assert await lifecycle.sweep(uploads, later) == {"orphans": 1, "expired": 1}
    for kept in user_orphans + [in_held]:
        assert await uploads.repo.get(kept) is not None
    assert await uploads.repo.get(other_orphan) is None and await uploads.repo.get(in_free) is None
    assert await lifecycle.sweep(uploads, later) == {"orphans": 0, "expired": 0}  # still held
    assert (await api.delete("/api/holds/users/st1", token("a1")))[0] == 200
    assert (await api.delete("/api/holds/conversations/" + held_conv["id"], token("a1")))[0] == 200
    assert await lifecycle.sweep(uploads, later) == {"orphans": 3, "expired": 1}
    for gone in user_orphans + [in_held]:
        assert await uploads.repo.get(gone) is None


async def forwarded_then_original_deleted(api: Any, forwarder: str, target_id: str, name: str) -> str:
    """A file st2 sent into a group with ``forwarder``, forwarded into ``target_id``, the original deleted."""
    src = await api.conversation("st2", "group", [forwarder], title="Src " + name)
    _, up = await upload(api, "st2", PDF + name.encode(), name, "application/pdf")
    status, sent = await api.post(MSGS % src["id"], token("st2"), {
        "type": "file", "text": "file", "attachments": [{"uploadId": up["data"]["id"]}]})
    assert status == 201, sent
    status, fw = await api.post("/api/messages/%s/forward" % sent["data"]["id"], token(forwarder),
                                {"conversationId": target_id})
    assert status == 201, fw
    assert (await api.delete("/api/messages/%s" % sent["data"]["id"], token("st2")))[0] == 200
    return up["data"]["id"]


@pytest.mark.settings(upload_retention_days=30)
@pytest.mark.gen_test
async def test_a_hold_on_a_forwards_target_or_forwarder_keeps_the_forwarded_file(api, runtime):
    uploads = runtime.uploads
    held_target = await api.conversation("st1", "group", ["t1"], title="Held target")
    free_target = await api.conversation("st3", "group", ["t2"], title="Free target")
    into_held = await forwarded_then_original_deleted(api, "st1", held_target["id"], "a.pdf")
    by_held = await forwarded_then_original_deleted(api, "st3", free_target["id"], "b.pdf")
    free = await forwarded_then_original_deleted(api, "t2", free_target["id"], "c.pdf")
    assert (await api.put("/api/holds/conversations/" + held_target["id"], token("a1"), REASON))[0] == 200
    assert (await api.put("/api/holds/users/st3", token("a1"), REASON))[0] == 200
    later = now_ms() + 31 * DAY
    assert await lifecycle.sweep(uploads, later) == {"orphans": 0, "expired": 1}
    assert await uploads.repo.get(into_held) is not None and await uploads.repo.get(by_held) is not None
    assert await uploads.repo.get(free) is None
    assert (await api.delete("/api/holds/conversations/" + held_target["id"], token("a1")))[0] == 200
    assert (await api.delete("/api/holds/users/st3", token("a1")))[0] == 200
    assert await lifecycle.sweep(uploads, later) == {"orphans": 0, "expired": 2}
