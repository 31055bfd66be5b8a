"""The OpenAPI document against the application's route table, its validity, the docs page,
HTTP method/route errors, and regression tests for what the schemathesis run found."""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
from html.parser import HTMLParser
from typing import Any, List, Set, Tuple
from urllib.parse import urljoin, urlparse

import pytest
import tornado.httpclient
import tornado.web
from openapi_spec_validator import validate

from handlers.base import NotFoundHandler, allowed_methods
from handlers.routes import STATIC_DIR
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("school")

DOCS_DIR = os.path.join(STATIC_DIR, "api-docs")


def app_operations(app: tornado.web.Application) -> Set[Tuple[str, str]]:
    """(path with ``{}`` for each parameter, METHOD) for every ``/api`` route of the application,
    whatever its handler's base class (file downloads are not ApiHandlers)."""
    ops = set()
    for rule in app.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern.rstrip("$")
        if not pattern.startswith("/api/") or rule.target is NotFoundHandler:
            continue
        target = rule.target
        assert "(" not in pattern.replace("([^/]+)", ""), "route %s: parameters must be ([^/]+)" % pattern
        path = pattern.replace("([^/]+)", "{}").replace("\\.", ".")
        for method in allowed_methods(target):
            ops.add((path, method))
    return ops


def document_operations(document: Any) -> Set[Tuple[str, str]]:
    ops = set()
    for path, item in document["paths"].items():
        for method in item:
            ops.add((re.sub(r"\{[^}]+\}", "{}", path), method.upper()))
    return ops


async def fetch_document(api: Api) -> Any:
    status, document = await api.get("/api/openapi.json")
    assert status == 200, document
    return document


@pytest.mark.gen_test
async def test_document_is_valid_openapi_31(api: Api) -> None:
    document = await fetch_document(api)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message"}
    assert {"bad_request", "unauthorized", "forbidden", "not_found", "conflict", "too_large", "unavailable",
            "internal", "method_not_allowed"} <= set(error["properties"]["code"]["enum"])


def test_document_with_the_upload_routes_is_valid_openapi_31(settings: Any) -> None:
    from handlers.openapi import build_document

    document = build_document(settings, "1", uploads=True)
    validate(document)
    assert {"/api/uploads", "/api/uploads/links", "/api/uploads/{uploadId}",
            "/api/uploads/{uploadId}/thumbnail"} <= set(document["paths"])
    assert set(document["paths"]["/api/uploads/{uploadId}"]) == {"get", "head"}


@pytest.mark.gen_test
async def test_document_and_route_table_list_the_same_operations(api: Api, app: Any) -> None:
    documented = document_operations(await fetch_document(api))
    routed = app_operations(app)
    assert routed, "no routes found: the comparison would pass vacuously"
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations the application does not have"


@pytest.mark.gen_test
async def test_document_parameters_name_every_path_segment(api: Api) -> None:
    document = await fetch_document(api)
    for path, item in document["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
            public = op.get("security") == []
            assert public or "401" in op["responses"], (method, path)


@pytest.mark.gen_test
async def test_document_states_the_configured_limits(api: Api, settings: Any) -> None:
    schemas = (await fetch_document(api))["components"]["schemas"]
    from chat.rules.validation import trimmed_pattern
    assert schemas["NewMessage"]["properties"]["text"]["pattern"] == trimmed_pattern(0, settings.max_text)
    assert schemas["NewConversation"]["properties"]["participantIds"]["maxItems"] == settings.max_participants


@pytest.mark.gen_test
async def test_wrong_method_is_405_with_allow_header(api: Api, base_url: str) -> None:
    client = tornado.httpclient.AsyncHTTPClient()
    cases = [("DELETE", "/api/conversations", "GET, POST"), ("PUT", "/api/health", "GET, HEAD"),
             ("POST", "/api/me", "GET"), ("GET", "/api/conversations/abc/read", "POST"),
             ("PATCH", "/api/messages/abc/reactions/x", "DELETE, PUT"), ("POST", "/api/openapi.json", "GET")]
    for method, path, allow in cases:
        resp = await client.fetch(base_url + path, method=method, body=b"{}" if method != "GET" else None,
                                  raise_error=False, allow_nonstandard_methods=True)
        assert resp.code == 405, (method, path, resp.code, resp.body)
        assert ", ".join(sorted(resp.headers["Allow"].split(", "))) == allow, (method, path)
        body = tornado.escape.json_decode(resp.body)
        assert body["error"]["code"] == "method_not_allowed" and allow in body["error"]["message"]
    # a wrong method changes nothing: still no conversations
    status, data = await api.get("/api/conversations", "st1")
    assert status == 200 and data["data"] == []


@pytest.mark.gen_test
async def test_unknown_method_on_unknown_route_is_still_404(api: Api, base_url: str) -> None:
    client = tornado.httpclient.AsyncHTTPClient()
    resp = await client.fetch(base_url + "/api/nope", method="PATCH", body=b"{}", raise_error=False)
    assert resp.code == 404 and b"not_found" in resp.body and "Allow" not in resp.headers


@pytest.mark.gen_test
async def test_trailing_slash_is_404_naming_the_route(api: Api) -> None:
    conv = await api.conversation("st1", "direct", ["st2"])
    for path in ("/api/conversations/", "/api/conversations/%s/" % conv["id"], "/api/me//"):
        status, data = await api.get(path, "st1")
        assert status == 404 and data["error"]["code"] == "not_found", (path, data)
        assert "%s takes no trailing slash" % path.rstrip("/") in data["error"]["message"], data
    status, data = await api.get("/api/nowhere/", "st1")
    assert status == 404 and data["error"]["message"] == "no such route"


@pytest.mark.gen_test
@pytest.mark.settings(demo=True)
async def test_demo_routes_have_one_method_each(api: Api) -> None:
    status, data = await api.get("/api/demo/users")
    assert status == 200 and data["data"]
    status, data = await api.post("/api/demo/users", body={"userId": "admin"})
    assert status == 405 and data["error"]["code"] == "method_not_allowed"
    status, data = await api.post("/api/demo/token", body={"userId": "admin"})
    assert status == 200 and data["data"]["user"]["id"] == "admin"
    status, data = await api.get("/api/demo/token")
    assert status == 405


@pytest.mark.gen_test
async def test_demo_routes_do_not_exist_without_demo_mode(api: Api) -> None:
    for method in ("GET", "POST", "DELETE"):
        status, data = await api.call(method, "/api/demo/users")
        if method == "GET":
            assert status == 404 and data["error"]["code"] == "not_found", method
        else:  # a method the route never has is 405 whatever the mode (tests/e2e/test_hardening_api.py)
            assert status == 405 and data["error"]["code"] == "method_not_allowed", method


# ---------------------------------------------------------------------- the docs page
class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: List[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        attrs = dict(attrs)
        for key in ("src", "href", "data-spec-url"):
            if attrs.get(key) and not attrs[key].startswith("data:"):
                self.refs.append(attrs[key])
        self._in_script = tag == "script" and not attrs.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.mark.gen_test
async def test_docs_page_references_only_local_assets(api: Api, base_url: str) -> None:
    client = tornado.httpclient.AsyncHTTPClient()
    page = await client.fetch(base_url + "/api/docs")
    assert page.headers["Content-Type"].startswith("text/html")
    parser = _Assets()
    parser.feed(page.body.decode("utf-8"))
    assert parser.inline_scripts == 0
    names = {os.path.basename(urlparse(ref).path) for ref in parser.refs}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "docs.js", "openapi.json"} <= names
    for ref in parser.refs:
        assert not urlparse(ref).scheme and not ref.startswith("//"), ref
        url = urljoin(base_url + "/api/docs", ref)
        assert url.startswith(base_url + "/"), url
        resp = await client.fetch(url, raise_error=False)
        assert resp.code == 200 and resp.body, (ref, resp.code)
    with open(os.path.join(DOCS_DIR, "docs.js"), encoding="utf-8") as fh:
        assert "http" not in fh.read().replace("https?", "")


def test_vendored_renderer_matches_its_recorded_checksums() -> None:
    with open(os.path.join(DOCS_DIR, "VENDORED.md"), encoding="utf-8") as fh:
        recorded = re.findall(r"^\s+([0-9a-f]{64})  (\S+)$", fh.read(), re.M)
    assert {name for _, name in recorded} >= {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"}
    for digest, name in recorded:
        with open(os.path.join(DOCS_DIR, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest, name


def _render_in_chromium(url: str) -> Tuple[List[str], List[str], List[str]]:
    """Open the docs page; return the operation summaries shown, page errors and outside requests."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import CHROMIUM_ARGS

    errors: List[str] = []
    outside: List[str] = []
    origin = "%s://%s" % (urlparse(url).scheme, urlparse(url).netloc)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith((origin, "data:")) else outside.append(r.url))
            page.goto(url)
            page.wait_for_selector(".opblock-summary-path", timeout=30000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    return paths, errors, outside


@pytest.mark.browser
@pytest.mark.gen_test(timeout=120)
async def test_docs_page_renders_every_route_in_chromium(api: Api, base_url: str) -> None:
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is required (.ci/run installs it)")
    document = await fetch_document(api)
    # the server keeps serving on this loop while the browser runs in a worker thread
    paths, errors, outside = await asyncio.get_running_loop().run_in_executor(
        None, _render_in_chromium, base_url + "/api/docs")
    assert errors == [] and outside == []
    shown = {p.replace("\u200b", "").strip() for p in paths}
    assert shown == set(document["paths"]), set(document["paths"]) ^ shown


# ---------------------------------------------------------------------- found by fuzzing
@pytest.mark.gen_test
async def test_lone_surrogates_in_bodies_are_bad_input_and_store_nothing(api: Api) -> None:
    conv = await api.conversation("st1", "group", ["st2"], title="t")
    probes = [("POST", "/api/conversations/%s/messages" % conv["id"], b'{"text": "a\\ud800b"}'),
              ("POST", "/api/conversations/%s/messages" % conv["id"], b'{"text": "ok", "clientMsgId": "\\udfff"}'),
              ("PATCH", "/api/conversations/%s" % conv["id"], b'{"title": "\\ud83d"}'),
              ("POST", "/api/conversations", b'{"type": "group", "title": "\\udc00", "participantIds": ["st2"]}')]
    for method, path, raw in probes:
        status, data = await api.call(method, path, "st1", raw=raw)
        assert status == 400 and data["error"]["code"] == "bad_request", (path, raw, status, data)
    status, data = await api.get("/api/conversations/%s/messages" % conv["id"], "st1")
    assert status == 200 and [m for m in data["data"] if m["type"] != "system"] == []
    status, data = await api.get("/api/conversations", "st1")
    assert [c["title"] for c in data["data"]] == ["t"]


def check_documented(document: Any, template: str, method: str, status: int, body: Any) -> None:
    """The document lists ``status`` for the operation and ``body`` matches its schema."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    responses = document["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, (method, template, status, sorted(responses))
    pointer = "/paths/%s/%s/responses/%d" % (template.replace("~", "~0").replace("/", "~1"), method.lower(), status)
    response = responses[str(status)]
    if "$ref" in response:
        pointer = response["$ref"][1:]
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, default_specification=DRAFT202012))
    schema = {"$ref": "urn:doc#%s/content/application~1json/schema" % pointer}
    errors = list(Draft202012Validator(schema, registry=registry).iter_errors(body))
    assert errors == [], [e.message for e in errors]


@pytest.mark.gen_test
async def test_client_msg_id_reused_in_another_conversation_is_a_documented_409(api: Api) -> None:
    document = await fetch_document(api)
    first = await api.conversation("st1", "group", ["st2"], title="one")
    second = await api.conversation("st1", "group", ["st2"], title="two")
    await api.send("st1", first["id"], "hi", clientMsgId="same-id")
    status, data = await api.post("/api/conversations/%s/messages" % second["id"], "st1",
                                  {"text": "hi", "clientMsgId": "same-id"})
    assert status == 409 and data["error"]["code"] == "conflict", data
    check_documented(document, "/api/conversations/{conversationId}/messages", "POST", status, data)
    status, data = await api.get("/api/conversations/%s/messages" % second["id"], "st1")
    assert [m for m in data["data"] if m["type"] != "system"] == []


@pytest.mark.gen_test
async def test_empty_optional_query_values_mean_absent_as_documented(api: Api) -> None:
    from jsonschema import Draft202012Validator

    document = await fetch_document(api)
    conv = await api.conversation("st1", "direct", ["st2"])
    await api.send("st1", conv["id"], "hello")
    cases = [("/api/users", "?q=&role=&limit="), ("/api/conversations", "?type=&archived=&q=&limit=&offset="),
             ("/api/conversations/{conversationId}/messages", "?before=&after=&limit="),
             ("/api/presence", "?classId=&role=")]
    for template, query in cases:
        path = template.replace("{conversationId}", conv["id"])
        plain_status, plain = await api.get(path, "st1")
        status, data = await api.get(path + query, "st1")
        assert status == plain_status == 200 and data == plain, (path, query, data)
        check_documented(document, template, "GET", status, data)
        for param in document["paths"][template]["get"]["parameters"]:
            if param["in"] == "query" and param["schema"].get("type") == "object":  # exploded: each property
                for name, prop in param["schema"]["properties"].items():
                    assert Draft202012Validator(prop).is_valid(""), (template, name)
            elif param["in"] == "query":
                assert Draft202012Validator(param["schema"]).is_valid(""), (template, param["name"])
    status, data = await api.get("/api/users?limit=x", "st1")
    assert status == 400 and data["error"]["code"] == "bad_request"


@pytest.mark.gen_test
async def test_every_body_limit_refusal_is_a_documented_413(api: Api, settings: Any) -> None:
    document = await fetch_document(api)
    conv = await api.conversation("st1", "direct", ["st2"])
    big = ('{"text": "%s"}' % ("x" * (settings.max_body_bytes + 1))).encode()
    status, data = await api.post("/api/conversations/%s/messages" % conv["id"], "st1", raw=big)
    assert status == 413 and data["error"]["code"] == "too_large"
    check_documented(document, "/api/conversations/{conversationId}/messages", "POST", status, data)
    for item in document["paths"].values():
        for method, op in item.items():
            assert ("requestBody" in op) == ("413" in op["responses"]), method
