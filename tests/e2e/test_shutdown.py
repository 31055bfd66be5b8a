"""SIGTERM loses no answer: a real server process, a real socket mid-burst."""
from __future__ import annotations

import asyncio
import signal

import tornado.websocket
import ujson

from tests.e2e.test_process import ServerProc, http


def test_sigterm_answers_every_send_it_took_and_closes_with_1001(tmp_path):
    proc = ServerProc(str(tmp_path / "data"))
    try:
        proc.wait_ready()
        tok = {u: proc.cli("token", "--user", u, "--role", "student", "--school", "s1").stdout.strip()
               for u in ("st1", "st2")}
        assert http("GET", proc.url + "/api/me", tok["st2"])[0] == 200  # st2 is in the directory
        status, conv = http("POST", proc.url + "/api/conversations", tok["st1"],
                            {"type": "group", "participantIds": ["st2"], "title": "Burst"})
        assert status == 201
        cid = conv["data"]["id"]

        async def scenario():
            ws = "ws://127.0.0.1:%d/ws?token=" % proc.port
            sender = await tornado.websocket.websocket_connect(ws + tok["st1"])
            receiver = await tornado.websocket.websocket_connect(ws + tok["st2"])
            for conn in (sender, receiver):
                assert ujson.loads(await conn.read_message())["event"] == "session:ready"
            for i in range(300):
                sender.write_message(ujson.dumps({"event": "message:send", "ref": "r%d" % i,
                                                  "data": {"conversationId": cid, "text": "m%d" % i,
                                                           "clientMsgId": "c%d" % i}}))
            first = ujson.loads(await sender.read_message())  # the server is working through the burst
            proc.proc.send_signal(signal.SIGTERM)
            replies = [first]
            while True:
                raw = await sender.read_message()
                if raw is None:
                    break
                replies.append(ujson.loads(raw))
            pushed = []
            while True:
                raw = await receiver.read_message()
                if raw is None:
                    break
                frame = ujson.loads(raw)
                if frame["event"] == "message:new":
                    pushed.append(frame["data"]["text"])
            return replies, pushed, sender.close_code, receiver.close_code

        replies, pushed, code, code2 = asyncio.run(scenario())
        assert proc.proc.wait(30) == 0
        assert (code, code2) == (1001, 1001)
        answers = [f for f in replies if f.get("event") == "reply"]
        refs = [f["ref"] for f in answers]
        assert len(refs) == len(set(refs))  # never answered twice
        acked = [f["data"]["text"] for f in answers if f["ok"]]
        refused = [f for f in answers if not f["ok"]]
        assert all(f["error"]["code"] == "unavailable" for f in refused)
        assert acked and acked == ["m%d" % i for i in range(len(acked))]  # in order, none lost in between
        assert pushed == acked  # every acknowledged message was broadcast, once, before the close
        proc.log.close()
        again = ServerProc(proc.data_dir)
        try:
            again.wait_ready()
            status, page = http("GET", again.url + "/api/conversations/%s/messages?limit=100&after=0" % cid,
                                tok["st1"])
            stored = [m["text"] for m in page["data"]]
            while page["hasMore"]:
                status, page = http("GET", again.url + "/api/conversations/%s/messages?limit=100&after=%d"
                                    % (cid, page["next"]), tok["st1"])
                stored += [m["text"] for m in page["data"]]
            assert stored == acked  # stored is exactly what was acknowledged
        finally:
            again.stop()
    finally:
        proc.stop()
