"""The OpenAPI document says exactly what the server accepts (issue 20, item 17).

Unit half: for every request body, the emoji path segment, the history cursor and the query
values, the server's own validation and the document's schema (checked by jsonschema_rs, the
validator schemathesis judges with) agree on curated edge cases and on hypothesis-drawn input:
a schema-valid request is never refused as malformed, a schema-invalid one never accepted.

HTTP half: what used to slip through or be answered with the wrong status, against a live server.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List

import jsonschema_rs
import pytest
import tornado.httpclient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from chat.errors import BadRequest
from chat.rules import validation as v
from chat.settings import Settings
from handlers.openapi import build_document
from tests.conftest import Api

SETTINGS = Settings(max_text=40, max_title=12)  # small limits: hypothesis reaches both ends
DOC = build_document(SETTINGS, "1", uploads=True)
PLAIN_DOC = build_document(SETTINGS, "1", uploads=False)
PROPERTY = hsettings(max_examples=400, derandomize=True, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def validator(schema: Dict[str, Any], doc: Dict[str, Any] = DOC) -> Any:
    return jsonschema_rs.validator_for(dict(schema, components=doc["components"]))


def component(name: str, doc: Dict[str, Any] = DOC) -> Any:
    return validator({"$ref": "#/components/schemas/%s" % name}, doc)


def operation(path: str, method: str) -> Dict[str, Any]:
    return DOC["paths"][path][method]


def param(path: str, method: str, name: str) -> Dict[str, Any]:
    return next(p for p in operation(path, method)["parameters"] if p["name"] == name)


def accepts(parse: Callable[[Any], Any], value: Any) -> bool:
    try:
        parse(value)
        return True
    except BadRequest:
        return False


def agree(schema: Any, parse: Callable[[Any], Any], value: Any) -> None:
    assert schema.is_valid(value) == accepts(parse, value), (ascii(value), schema.is_valid(value))


# ---------------------------------------------------------------------- value pools
SPACES = [" ", "\t", "\n", "\u3000", "\u00a0", "\u2028", "\x1c", "\x85"]
STRINGS = (["", "x", "ab", "a b", "x" * 11, "x" * 12, "x" * 13, "x" * 39, "x" * 40, "x" * 41, "x" * 64,
            "x" * 65, "x" * 128, "x" * 129, "\x04", "\x1bQ", "a\x00b", "\u200b", "\U0001F44D", "group", "text",
            "file", "direct", "class", "admin", "st1", "https://a.example/x", "http://", "https:// x",
            "httpſ://x.org", "HTTP://X.ORG", "https://x.org/" + "y" * 2030, "ftp://x.org", "javascript:alert(1)"]
           + [s + "x" + s for s in SPACES] + [s * 3 for s in SPACES] + [" " * 5 + "x" * 40 + " " * 5,
                                                                        " " * 3 + "x" * 12 + "\t"])
SCALARS: List[Any] = [None, True, False, 0, 1, 5, 5.0, 5.5, -1, 2 ** 53, 2 ** 53 + 1, float(2 ** 53), 1e300, [], {}]
text = st.one_of(st.sampled_from(STRINGS), st.text(st.sampled_from(list("ab ") + SPACES + ["\x04"]), max_size=16),
                 st.builds(lambda pad, core, tail: pad + core + tail, st.sampled_from(["", " ", "\u3000\n"]),
                           st.text(min_size=0, max_size=45), st.sampled_from(["", " ", "\t"])))
atom = st.one_of(text, st.sampled_from(SCALARS))
attachment = st.one_of(
    st.fixed_dictionaries({"name": atom, "size": atom, "mimeType": atom, "url": atom}),
    st.fixed_dictionaries({"name": st.just("a.pdf"), "size": st.just(3), "mimeType": st.just("application/pdf"),
                           "url": st.sampled_from(STRINGS)}),
    st.fixed_dictionaries({"uploadId": atom}),
    st.fixed_dictionaries({"name": st.just("a"), "size": st.just(1), "mimeType": st.just("a/b"),
                           "url": st.just("https://x.org"), "uploadId": atom}))
value = st.one_of(atom, st.lists(st.one_of(text, st.sampled_from(SCALARS[:6])), max_size=3),
                  st.lists(attachment, max_size=2))


def bodies(keys: List[str]) -> Any:
    """Objects with any of these keys (a valid type or boolean more often than chance), or not objects."""
    special = {"type": st.one_of(st.sampled_from(list(v.CONVERSATION_TYPES) + list(v.MESSAGE_TYPES)), atom),
               "muted": st.one_of(st.booleans(), atom), "pinned": st.booleans(), "archived": st.booleans()}
    optional = {key: special.get(key, value) for key in keys}
    return st.one_of(st.fixed_dictionaries({}, optional=optional), atom)


# ---------------------------------------------------------------------- bodies
def _user_ids(body: Any) -> Any:
    ids = v.id_list(v.obj(body), "userIds", SETTINGS.max_participants)
    if not ids:  # what ConversationActions.add_participants answers before anything else
        raise BadRequest("userIds must not be empty")
    return ids


BODIES = {
    "NewMessage": (lambda b: v.parse_new_message(b, SETTINGS),
                   ["text", "type", "attachments", "clientMsgId", "replyTo", "mentions", "extra"]),
    "NewConversation": (lambda b: v.parse_new_conversation(b, SETTINGS), ["type", "participantIds", "title", "classId"]),
    "ConversationPatch": (lambda b: v.parse_conversation_patch(b, SETTINGS),
                          ["title", "muted", "pinned", "archived", "slowModeSeconds"]),
    "MuteRequest": (v.parse_mute, ["minutes", "extra"]),
    "Edit": (lambda b: v.parse_edit(b, SETTINGS), ["text"]),
    "Seq": (v.parse_seq, ["seq", "extra"]),
    "UserIds": (_user_ids, ["userIds"]),
    "DemoTokenRequest": (lambda b: v.choice(v.obj(b), "userId", ["admin", "s-alice"]), ["userId"]),
}


def test_each_place_the_document_was_looser_than_the_server() -> None:
    """The places the fuzzer (and the issue) found, one by one."""
    message, seq, edit = component("NewMessage"), component("Seq"), component("Edit")
    new_conv, patch = component("NewConversation"), component("ConversationPatch")
    parse_message = BODIES["NewMessage"][0]
    att = {"name": "w.pdf", "size": 1, "mimeType": "application/pdf", "url": "https://x.org/w.pdf"}
    for body in ({"text": "hi", "clientMsgId": ""}, {"text": "hi", "clientMsgId": "   "},  # clientMsgId ""
                 {"type": "file"}, {"type": "file", "text": "  "}, {"attachments": [], "text": ""},  # no text
                 {"text": "hi", "replyTo": ""}, {"text": "hi", "mentions": [" "]}, {"text": "hi", "type": " text"},
                 {"attachments": [dict(att, url="httpſ://x.org")]}, {"attachments": [dict(att, name=" ")]}):
        assert not accepts(parse_message, body) and not message.is_valid(body), body
    # an uploadId is always read as an upload: without uploads the server refuses it, so does the document
    with_upload = {"text": "hi", "attachments": [dict(att, uploadId="u1")]}
    assert not component("NewMessage", PLAIN_DOC).is_valid(with_upload) and message.is_valid(with_upload)
    for body in ({"text": " " * 30 + "x" * 40}, {"type": "file", "attachments": [att]},
                 {"text": "hi", "clientMsgId": " " + "c" * 64 + " "}):
        assert accepts(parse_message, body) and message.is_valid(body), body
    # seq 5.0: JSON Schema (and any JSON parser) reads it as the integer 5, so the server does too
    assert v.parse_seq({"seq": 5.0}) == 5 and isinstance(v.parse_seq({"seq": 5.0}), int) and seq.is_valid({"seq": 5.0})
    for bad in (5.5, True, "5", float(2 ** 53 + 2), float("inf"), -1.0):
        assert not accepts(v.parse_seq, {"seq": bad}) and not seq.is_valid({"seq": bad}), bad
    assert not edit.is_valid({"text": "   "}) and not accepts(BODIES["Edit"][0], {"text": "   "})
    for body in ({"type": " group", "participantIds": [], "title": "t"}, {"type": "group", "participantIds": [],
                                                                           "title": "  "},
                 {"type": "class", "classId": ""}, {"type": "direct", "participantIds": ["\u3000"]}):
        assert not new_conv.is_valid(body) and not accepts(BODIES["NewConversation"][0], body), body
    assert not patch.is_valid({"title": " "}) and not accepts(BODIES["ConversationPatch"][0], {"title": " "})
    demo = component("DemoTokenRequest")
    assert demo.is_valid({"userId": "admin"}) and not demo.is_valid({"userId": " admin"})
    assert not component("UserIds").is_valid({"userIds": []})


@pytest.mark.parametrize("name", sorted(BODIES))
def test_body_schema_and_server_agree(name: str) -> None:
    parse, keys = BODIES[name]
    schema = component(name)

    @PROPERTY
    @given(bodies(keys))
    def check(body: Any) -> None:
        agree(schema, parse, body)
    check()


# ---------------------------------------------------------------------- the emoji path segment
def emoji_schema() -> Any:
    return validator(param("/api/messages/{messageId}/reactions/{emoji}", "put", "emoji")["schema"])


def test_emoji_rule_is_the_documented_pattern() -> None:
    good = ["\U0001F44D", "\u2764\ufe0f", "\U0001F44D\U0001F3FD", "\U0001F469\u200d\U0001F4BB", "\U0001F1EB\U0001F1F7",
            "\u2705", "1\ufe0f\u20e3", "#\u20e3", "\U0001F3F3\ufe0f\u200d\U0001F308", "\u00a9"]
    bad = ["", "0", "00", "a", "\U0001F44D\U0001F44D", "\U0001F1EB", "\U0001F1EB\U0001F1F7\U0001F1EB", "\U0001F44D\n",
           "\U0001F44D ", "\u200d", "\U0001F44D\u200d", "\U0001F468\u200d\U0001F469\u200d\U0001F467", "1", "\ufe0f",
           "\U0001F44D\u0301", "<script>", "\U0001F44Dx"]
    schema = emoji_schema()
    for ok in good:
        assert v.valid_emoji(ok) == ok and schema.is_valid(ok), ascii(ok)
    for no in bad:
        assert not accepts(v.valid_emoji, no) and not schema.is_valid(no), ascii(no)


@PROPERTY
@given(st.one_of(st.text(max_size=5), st.text(st.sampled_from(
    ["\U0001F44D", "\u2764", "\ufe0f", "\ufe0e", "\u200d", "\U0001F3FD", "\U0001F1EB", "\U0001F1F7", "1", "#",
     "\u20e3", "\U000E0067", "\u0301", "a", "^"]), max_size=5)))
def test_emoji_schema_and_server_agree(emoji: str) -> None:
    agree(emoji_schema(), v.valid_emoji, emoji)


# ---------------------------------------------------------------------- query values
MESSAGES = "/api/conversations/{conversationId}/messages"
def cursor_schema() -> Any:
    return validator(param(MESSAGES, "get", "cursor")["schema"])


def _cursor(query: Dict[str, str]) -> None:
    """What MessagesHandler.get does with before/after/around."""
    before = v.query_int_opt(query.get("before"), "before", 0, 2 ** 53)
    after = v.query_int_opt(query.get("after"), "after", 0, 2 ** 53)
    around = v.query_int_opt(query.get("around"), "around", 1, 2 ** 53)
    if around is not None and (before is not None or after is not None):
        raise BadRequest("around takes neither before nor after")


def _as_schema_value(raw: str) -> Any:
    """How a query value reads against the document: decimal digits are a number."""
    return int(raw) if raw.lstrip("-").isdigit() and raw.lstrip("-").isascii() else raw


@PROPERTY
@given(st.dictionaries(st.sampled_from(["before", "after", "around"]),
                       st.sampled_from(["", "0", "1", "5", "-1", str(2 ** 53), str(2 ** 53 + 1)])))
def test_history_cursor_schema_and_server_agree(query: Dict[str, str]) -> None:
    schema_valid = cursor_schema().is_valid({k: _as_schema_value(raw) for k, raw in query.items()})
    assert schema_valid == accepts(_cursor, query), query


def test_around_with_before_or_after_is_invalid_in_the_document() -> None:
    cursor = cursor_schema()
    assert not cursor.is_valid({"around": 3, "before": 5}) and not cursor.is_valid({"around": 3, "after": 0})
    assert cursor.is_valid({"around": 3, "before": ""}) and cursor.is_valid({"before": 5, "after": 1})
    assert not accepts(_cursor, {"around": "3", "after": "0"}) and accepts(_cursor, {"around": "3", "after": ""})


def test_query_integers_and_booleans_are_strict() -> None:
    for raw in (" 5", "5 ", "+5", "5_0", "\u0665", "\x04", "5.0", "0x5"):  # int() takes most of these
        assert not accepts(lambda r: v.query_int(r, "limit", 50, 1, 200), raw), ascii(raw)
    assert v.query_int("7", "limit", 50, 1, 200) == 7 and v.query_int("", "limit", 50, 1, 200) == 50
    archived = validator(param("/api/conversations", "get", "archived")["schema"])
    for raw in ("true", "TRUE", "Yes", "1", "false", "no", "0", "", " true", "truee", "2", "on"):
        assert archived.is_valid(raw) == accepts(lambda r: v.query_bool(r, "archived"), raw), raw


def _search_q(raw: str) -> None:
    """What the search handler and SearchActions.search check of q."""
    q = v.query_text(raw, "q").strip()
    if not 2 <= len(q) <= 200:
        raise BadRequest("q must be 2..200 characters")


def test_control_characters_in_query_values_are_refused_as_documented() -> None:
    text_params = [param("/api/users", "get", "q"), param("/api/conversations", "get", "q"),
                   param("/api/search", "get", "conversationId"), param("/api/presence", "get", "classId")]
    for raw in ("\x04", "a\x1bb", "\x7f", "\x85", "a\nb", "ok", "", " spaced ", "\u3000"):
        server = accepts(lambda r: v.query_text(r, "q"), raw)
        for p in text_params:
            assert validator(p["schema"]).is_valid(raw) == server, (p["name"], ascii(raw))
    search_q = validator(param("/api/search", "get", "q")["schema"])
    for raw in ("\x1bQ", "Q", "  Q  ", "ab", " ab ", "x" * 200, " " + "x" * 200 + " ", "x" * 201, "a\x00b"):
        server = accepts(_search_q, raw)
        assert search_q.is_valid(raw) == server, ascii(raw)


# ---------------------------------------------------------------------- over HTTP
@pytest.mark.gen_test
@pytest.mark.usefixtures("school")
async def test_query_values_are_read_as_sent(api: Api) -> None:
    conv = await api.conversation("st1", "group", ["st2"], title="t")
    await api.send("st1", conv["id"], "abc here")
    for path in ("/api/users?limit=%04", "/api/users?limit=%205", "/api/users?role=%20student",
                 "/api/users?q=a%00", "/api/search?q=%1Bab", "/api/conversations?archived=%01",
                 "/api/conversations/%s/messages?before=%%09" % conv["id"], "/api/presence?classId=c1%0A"):
        status, data = await api.get(path, "st1")
        assert status == 400 and data["error"]["code"] == "bad_request", (path, status, data)
    status, data = await api.get("/api/search?q=%20ab%20", "st1")
    assert status == 200 and [m["text"] for m in data["data"]] == ["abc here"]
    status, data = await api.get("/api/users?limit=2&role=student", "st1")
    assert status == 200 and len(data["data"]) == 2


@pytest.mark.gen_test
@pytest.mark.usefixtures("school")
async def test_integral_numbers_are_integers_over_http(api: Api) -> None:
    conv = await api.conversation("st1", "group", ["st2"], title="t")
    await api.send("st1", conv["id"], "one")
    status, data = await api.post("/api/conversations/%s/read" % conv["id"], "st2", raw=b'{"seq": 1.0}')
    assert status == 200 and data["data"]["lastReadSeq"] == 1, data
    status, data = await api.post("/api/conversations/%s/read" % conv["id"], "st2", raw=b'{"seq": 1.5}')
    assert status == 400 and data["error"]["code"] == "bad_request"


@pytest.mark.gen_test
@pytest.mark.usefixtures("school")
async def test_well_formed_requests_refused_for_what_they_refer_to_are_not_400(api: Api) -> None:
    """A request the document calls valid is never a 400: unknown users, messages and
    (or other schools') users are 403, a mention of a non-participant, a reply to another
    conversation's message and what a direct conversation cannot do are 409."""
    direct = await api.conversation("st1", "direct", ["st2"])
    group = await api.conversation("st1", "group", ["st2"], title="g")
    other = await api.send("st1", group["id"], "elsewhere")
    cases = [("POST", "/api/conversations", {"type": "group", "participantIds": ["nobody"], "title": "x"}, 403),
             ("POST", "/api/conversations", {"type": "group", "participantIds": ["x1"], "title": "x"}, 403),
             ("POST", "/api/conversations", {"type": "direct", "participantIds": ["st1"]}, 409),
             ("POST", "/api/conversations", {"type": "direct", "participantIds": ["st2", "st3"]}, 409),
             ("POST", "/api/conversations/%s/participants" % group["id"], {"userIds": ["nobody"]}, 403),
             ("POST", "/api/conversations/%s/participants" % direct["id"], {"userIds": ["st3"]}, 409),
             ("PATCH", "/api/conversations/%s" % direct["id"], {"title": "x"}, 409),
             ("DELETE", "/api/conversations/%s/participants/st2" % direct["id"], None, 409),
             ("POST", "/api/conversations/%s/messages" % direct["id"], {"text": "x", "replyTo": other["id"]}, 409),
             ("POST", "/api/conversations/%s/messages" % direct["id"], {"text": "x", "mentions": ["st3"]}, 409)]
    for method, path, body, expected in cases:
        status, data = await api.call(method, path, "st1", body)
        assert status == expected, (method, path, body, status, data)
        codes = {403: "forbidden", 409: "conflict"}
        assert data["error"]["code"] == codes[expected]
    status, data = await api.get("/api/conversations/%s/messages" % direct["id"], "st1")
    assert [m for m in data["data"] if m["type"] != "system"] == []  # nothing was stored
    status, data = await api.get("/api/conversations/%s" % direct["id"], "st1")
    assert data["data"]["title"] is None and len(data["data"]["participants"]) == 2


@pytest.mark.gen_test
async def test_demo_routes_answer_405_for_methods_they_never_have(api: Api, base_url: str) -> None:
    """Demo mode off: a route's methods still get 404, a method it never has 405 with Allow."""
    client = tornado.httpclient.AsyncHTTPClient()
    for method, path, allow in (("PUT", "/api/demo/users", "GET"), ("DELETE", "/api/demo/token", "POST"),
                                ("PATCH", "/api/demo/users", "GET")):
        resp = await client.fetch(base_url + path, method=method, body=b"{}" if method != "DELETE" else None,
                                  raise_error=False, allow_nonstandard_methods=True)
        assert resp.code == 405 and resp.headers["Allow"] == allow, (method, path, resp.code, resp.body)
    for method, path in (("GET", "/api/demo/users"), ("POST", "/api/demo/token")):
        status, data = await api.call(method, path, body={"userId": "admin"} if method == "POST" else None)
        assert status == 404 and data["error"]["code"] == "not_found"


@pytest.mark.gen_test
@pytest.mark.settings(demo=True)
async def test_demo_token_takes_a_demo_user_id_exactly(api: Api) -> None:
    status, data = await api.post("/api/demo/token", body={"userId": " admin"})
    assert status == 400 and data["error"]["code"] == "bad_request"
    status, data = await api.post("/api/demo/token", body={"userId": "admin"})
    assert status == 200 and data["data"]["user"]["id"] == "admin"
