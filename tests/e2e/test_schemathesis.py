"""Schemathesis fuzzes every REST operation of a live server against its own OpenAPI document.

The server runs on this test's event loop (real nx-27017, the standard school, seeded
conversations and messages); ``schemathesis run`` runs as a child process against its URL with
a valid bearer token, a fixed seed and a bounded number of examples. Existing ids are fed in
through dictionaries, so operations reach real objects as well as random ids.

Every check schemathesis has runs, in all four phases (examples, coverage, fuzzing, stateful): no
5xx; every status, content type, header and body as documented; schema-invalid input refused
(negative data) and schema-valid input never refused as malformed (positive data: the document
states every rule the server checks, chat/rules/validation.py and handlers/openapi_schemas.py share
the patterns, and a well-formed request refused for what it refers to is 403/404/409, not 400);
a wrong method 405 with Allow; auth enforced; created resources reachable through the links.
One exclusion, with its reason in ``config``: positive data of the upload body.
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Any, Dict, List

import pytest
import tornado.process
import ujson

from chat.ops.roster import import_roster
from tests.conftest import BY_ID, Api, token

pytestmark = pytest.mark.usefixtures("school")

USER = "t1"
# fixed, so that CI runs the same cases every time; FUZZ_SEED / FUZZ_EXAMPLES explore further locally.
# 20 examples per operation and phase keep the whole run near a minute on one busy core.
SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))


async def seed(api: Api, runtime: Any) -> Dict[str, List[str]]:
    """Conversations of every kind the caller is in, with messages, a reply, a reaction and an edit."""
    direct = await api.conversation(USER, "direct", ["st1"])
    group = await api.conversation(USER, "group", ["st1", "st2"], title="Project team")
    klass = await api.conversation(USER, "class", classId="c1")
    other = await api.conversation("t2", "group", ["st3"], title="Not t1's")
    messages = []
    for conv in (direct, group, klass):
        first = await api.send(USER, conv["id"], "hello from t1")
        reply = await api.send("st1", conv["id"], "hi back", replyTo=first["id"])
        messages += [first["id"], reply["id"]]
    status, _ = await api.put("/api/messages/%s/reactions/%s" % (messages[0], "%F0%9F%91%8D"), "st1")
    assert status == 200
    status, _ = await api.patch("/api/messages/%s" % messages[0], USER, {"text": "hello, edited"})
    assert status == 200
    messages.append((await api.send("t2", other["id"], "elsewhere"))["id"])
    # safeguarding: the caller moderates too (so the queue's routes answer it), and a case is open
    await import_roster(runtime.store, [dict(BY_ID[USER], safeguarding=True)], [])
    status, case = await api.post("/api/messages/%s/report" % messages[1], USER, {"reason": "spam"})
    assert status == 201, case
    # notifications: missed-message email (a signed unsubscribe link, so that the route answers 200 too)
    from chat.domain.notify.missed_email import link_key
    from chat.rules.email_digest import sign
    links = {"unsubscribeUsers": ["st3"], "unsubscribeSigs": [sign(link_key(runtime.settings), "st3")]}
    # notifications: scheduled messages (one waiting, an hour from now)
    status, later = await api.post("/api/conversations/%s/messages" % group["id"], USER,
                                   {"text": "later", "sendAt": int(runtime.clock.time() * 1000) + 3600_000})
    assert status == 201, later
    return {**links, "scheduled": [later["data"]["id"]],
            "conversations": [direct["id"], group["id"], klass["id"], other["id"]], "messages": messages,
            "users": ["st1", "st2", "st3", "t1", "t2", "x1"], "emoji": ["\U0001F44D", "\u2764\ufe0f", "\U0001F389"],
            "classes": ["c1", "c2", "cx"], "cases": [case["data"]["caseId"]]}


def config(ids: Dict[str, List[str]], admin: str = "") -> str:
    """A schemathesis.toml: dictionaries of existing ids bound to the matching parameters."""
    def values(items: List[str]) -> str:
        return "[%s]" % ", ".join('"%s"' % item for item in items)
    bindings = {"path.conversationId": "conversations", "query.conversationId": "conversations",
                "path.messageId": "messages", "path.userId": "users", "path.emoji": "emoji",
                "query.classId": "classes", "body.userIds[*]": "users", "body.participantIds[*]": "users",
                "body.classId": "classes", "body.replyTo": "messages", "path.caseId": "cases",
                "path.scheduledId": "scheduled", "body.conversationId": "conversations"}
    # every check schemathesis has, positive_data_acceptance included (in the config file, not with
    # --checks, so that the one operation below can leave one out)
    lines = ["[checks]", "enabled = true", ""]
    for name, items in ids.items():
        lines += ["[dictionaries.%s]" % name, "values = %s" % values(items), ""]
    # 413 is how a body over the configured limit is refused: a rejection like any other
    lines += ["[checks.negative_data_rejection]",
              'expected-statuses = ["400", "401", "403", "404", "405", "409", "413", "422", "429"]', ""]
    # The upload body is a file whose type the server sniffs from its bytes (README "Uploads"):
    # no JSON Schema of a binary body can say which bytes make an accepted file, so random bytes
    # refused as "files of type application/zip are not accepted" are not a schema/server
    # disagreement. Every other check still runs on this operation.
    # Links between operations come from the document (handlers/openapi.py _LINKS) and Location
    # headers only. Schemathesis's dependency analysis reads POST .../participants (which answers
    # the conversation) as creating a "participant" whose id is data.id, and feeds that
    # conversation id to DELETE .../participants/{userId} as the user id: the server's 404 "not a
    # participant" is then right, and ensure_resource_availability reports the guess, not the server.
    lines += ["[phases.stateful.inference]", 'algorithms = ["location-headers"]', ""]
    # The roster import also takes a CSV file (text/csv): which strings are a readable CSV roster
    # (a header naming the columns, a role and a school in every row) is no JSON Schema of a
    # string, so a random string refused as "CSV header must be ..." is not a disagreement either.
    # Admins only, like the audit log's routes below: fuzzed as the school's admin (one entry:
    # one operation's settings in one place).
    lines += ["[[operations]]", 'include-path = "/api/roster/import"', 'include-method = "POST"',
              "checks.positive_data_acceptance.enabled = false",
              'headers = { Authorization = "Bearer %s" }' % (admin or token("a1")), ""]
    lines += ["[[operations]]", 'include-path = "/api/uploads"', 'include-method = "POST"',
              "checks.positive_data_acceptance.enabled = false", ""]
    # the audit log, legal holds, retention, exports, erasure, webhooks, bots and the school's notification
    # settings are for the school's admins only (the caller, a teacher, gets 403 for all of it): those routes are
    # fuzzed as the school's admin
    lines += ["[[operations]]",
              'include-path-regex = "^/api/(audit|holds|schools/.+/(retention|notifications)|exports|users/[^/]+/erase|webhooks|bots)"',
              'headers = { Authorization = "Bearer %s" }' % (admin or token("a1")), ""]
    # notifications: missed-message email: the unsubscribe link's u and sig a valid pair at times (bound to
    # that operation only: the signed upload links take parameters of the same names)
    lines += ["[[operations]]", 'include-path = "/api/notifications/unsubscribe"',
              'parameters = { "query.u" = { dictionary = "unsubscribeUsers", probability = 0.6 }, '
              '"query.sig" = { dictionary = "unsubscribeSigs", probability = 0.6 } }', ""]
    lines.append("[parameters]")
    for param, name in bindings.items():
        lines.append('"%s" = { dictionary = "%s", probability = 0.6 }' % (param, name))
    return "\n".join(lines) + "\n"


@pytest.mark.gen_test(timeout=600)
# the demo routes exist (the client is loopback), so they are fuzzed too; short text limits keep the
# document's "n characters after trimming" patterns small, so generating from them is quick
@pytest.mark.settings(demo=True, max_text=64, max_title=32)
async def test_schemathesis_finds_nothing(api: Api, base_url: str, settings: Any, tmp_path: Any,
                                          runtime: Any) -> None:
    ids = await seed(api, runtime)
    config_path = tmp_path / "schemathesis.toml"
    config_path.write_text(config(ids, token("a1", settings)), encoding="utf-8")
    report = tmp_path / "junit.xml"
    args = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config_path), "--no-color",
            "run", base_url + "/api/openapi.json",
            "--header", "Authorization: Bearer " + token(USER, settings),
            "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
            "--generation-database", "none", "--workers", "1",
            "--request-timeout", "60", "--phases", "examples,coverage,fuzzing,stateful",
            "--suppress-health-check", "all", "--report", "junit", "--report-junit-path", str(report),
            "--output-truncate", "false"]
    # loopback only: no proxy from the environment may stand between the fuzzer and the server
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(SCHEMATHESIS_HOOKS="", NO_COLOR="1", PYTHONIOENCODING="utf-8", NO_PROXY="*")
    proc = tornado.process.Subprocess(args, stdout=tornado.process.Subprocess.STREAM,
                                      stderr=tornado.process.Subprocess.STREAM, env=env, cwd=str(tmp_path))
    try:
        # read both pipes while the child runs (the server it tests runs on this same loop)
        out, err = await asyncio.gather(proc.stdout.read_until_close(), proc.stderr.read_until_close())
        code = await proc.wait_for_exit(raise_error=False)
    finally:
        if proc.proc.poll() is None:  # the test was cancelled: leave no fuzzer behind
            proc.proc.kill()
            proc.proc.wait()
    text = out.decode("utf-8", "replace") + err.decode("utf-8", "replace")
    print(text)  # the run's report, for ``pytest -s``
    assert code == 0, text
    summary = text.split("SUMMARY")[-1]
    document = ujson.loads((await api.client.fetch(base_url + "/api/openapi.json")).body)
    operations = {"%s %s" % (method.upper(), path) for path, item in document["paths"].items() for method in item}
    tested = set(re.findall(r'<testcase[^>]* name="([^"]+)"', report.read_text(encoding="utf-8")))
    # every operation was reached and no phase was skipped: a vacuous run must not pass
    # (schemathesis leaves out the operation serving the document it reads; test_openapi.py covers it)
    assert operations - tested == {"GET /api/openapi.json"}, (operations - tested, text)
    assert "Stateful" in summary and "(disabled)" not in summary and "failed" not in summary.lower(), text
