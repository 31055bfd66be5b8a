"""The word filter's lists as a school admin sends them (``PUT /api/schools/{id}/filters``):
parsed and checked against the settings' limits (pure)."""
from __future__ import annotations

from typing import Any, Dict, List

from chat.errors import BadRequest
from chat.rules.validation import obj, string
from chat.settings import Settings

ACTIONS = ("flag", "block")
MAX_LIST_NAME = 64


def parse_filter_lists(body: Any, settings: Settings) -> List[Dict[str, Any]]:
    """``{lists: [{name, action: flag|block, terms: [..]}]}`` as stored: names and terms
    trimmed, at most ``filter_max_lists`` lists and ``filter_max_terms`` terms together, each
    term at most ``filter_max_term_chars``. A term without letters or digits is kept (it matches
    nothing)."""
    body = obj(body)
    if set(body) - {"lists"}:
        raise BadRequest("unknown field: %s" % sorted(set(body) - {"lists"})[0])
    lists = body.get("lists")
    if not isinstance(lists, list):
        raise BadRequest("lists must be a list")
    if len(lists) > settings.filter_max_lists:
        raise BadRequest("at most %d lists" % settings.filter_max_lists)
    out: List[Dict[str, Any]] = []
    total = 0
    for item in lists:
        item = obj(item, "a list")
        extra = set(item) - {"name", "action", "terms"}
        if extra:
            raise BadRequest("unknown field in a list: %s" % sorted(extra)[0])
        name = string(item, "name", max_len=MAX_LIST_NAME)
        action = item.get("action")
        if action not in ACTIONS:
            raise BadRequest("action must be flag or block")
        terms = item.get("terms")
        if not isinstance(terms, list):
            raise BadRequest("terms must be a list")
        total += len(terms)
        if total > settings.filter_max_terms:
            raise BadRequest("at most %d terms in all lists together" % settings.filter_max_terms)
        kept: List[str] = []
        for term in terms:
            if not isinstance(term, str):
                raise BadRequest("terms must be strings")
            term = term.strip()
            if not 1 <= len(term) <= settings.filter_max_term_chars:
                raise BadRequest("each term must be 1..%d characters after trimming" % settings.filter_max_term_chars)
            kept.append(term)
        out.append({"name": name, "action": action, "terms": kept})
    return out
