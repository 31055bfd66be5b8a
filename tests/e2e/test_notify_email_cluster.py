"""Missed-message email on a two-node cluster (real processes, real Redis, one database, a real
SMTP server in the test): messages stored through both nodes, both nodes looking for due email,
and exactly one email per user, sent by exactly one node.

The nodes run on the real clock, so the delay is a few seconds (``email_after`` is in minutes:
0.02); "no second email" is asserted after a barrier of several more looks on each node
(``chat_email_looks_total``), not after a sleep."""
from __future__ import annotations

import os
import re
import urllib.request
from typing import Any, Dict

import pytest

from chat.auth import mint_token
from chat.settings import Settings
from tests.conftest import SECRET, Api
from tests.e2e.smtp_helpers import Inbox
from tests.e2e.test_cluster import REDIS, eventually, run

ADDRESS = {"st1": "sam@school.example", "st2": "sue@school.example"}
TEXTS = ["Trip on Friday: bring lunch", "Coach leaves at 8", "Wear the school jumper"]


def claim_token(user: str, role: str = "student", name: str = "") -> str:
    return mint_token(Settings(jwt_secret=SECRET), user, role, "s1", name, 3600, {"email": ADDRESS[user]})


def scrape(node: Any) -> Dict[str, float]:
    text = urllib.request.urlopen(node.url + "/metrics", timeout=30).read().decode()
    found = {}
    for name in ("chat_email_looks_total", "chat_email_sent_total"):
        match = re.search(r"^%s (\S+)$" % name, text, re.M)
        found[name] = float(match.group(1)) if match else 0.0
    return found


@pytest.mark.skipif(not os.path.exists(REDIS), reason="redis-server is not installed")
def test_two_nodes_send_each_email_exactly_once(cluster, tmp_path):  # noqa: F811
    inbox = Inbox().start()
    try:
        a, b = cluster.start(2, smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_security="none",
                             email_from="chat@school.example", email_base_url="https://chat.school.example",
                             email_after=0.02, email_scan_interval=0.2)

        async def main() -> None:
            api_a, api_b = Api(a.url), Api(b.url)
            # the addresses come from the tokens' email claims (the cluster's roster has none)
            for user, api in (("st1", api_a), ("st2", api_b)):
                status, data = await api.get("/api/me/notifications", claim_token(user))
                assert status == 200 and data["data"]["email"]["addressKnown"] is True, data
            ann = await api_a.conversation("t1", "announcement", classId="c1")
            for n, text in enumerate(TEXTS):  # stored through both nodes
                await (api_a if n % 2 else api_b).send("t1", ann["id"], text)

            async def both_sent() -> bool:
                return len(inbox.messages) >= 2
            await eventually(both_sent, 60, "the two emails")
            before = [scrape(node)["chat_email_looks_total"] for node in (a, b)]

            async def looked_more() -> bool:  # the barrier: each node looked five more times
                return all(scrape(node)["chat_email_looks_total"] >= seen + 5 for node, seen in zip((a, b), before, strict=True))
            await eventually(looked_more, 60, "more looks on both nodes")
            assert sorted(m["To"] for m in inbox.messages) == sorted(ADDRESS.values())
            for mail in inbox.messages:
                assert mail["Subject"] == "3 new messages from Maths 7A"
                assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
                raw = mail.as_string()
                assert not any(word in raw for word in ("Friday", "Coach", "jumper"))  # no text leaks
            sent = [scrape(node)["chat_email_sent_total"] for node in (a, b)]
            assert sum(sent) == 2, sent  # each email sent by one node (the claim is taken once)
        run(main())
    finally:
        inbox.stop()
