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
