"""Cases the server opens itself (the word filter's ``flag`` lists and a sender's repeated
blocked texts), and the ``moderation:case`` push every case change sends.

A flagged message joins the one case of that message (key ``message:<id>``, shared with its
reports); a sender's repeated blocks join the one ``repeated_blocks`` case about that sender
(key ``repeated_blocks:<school>:<user>``), reopened when it had been resolved. Either has the
reason ``filter`` (no report may give it) and the names of the lists that matched; never the
text (moderators read a flagged message in the case detail, as for a reported one).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from chat.auth import Identity
from chat.domain.core import Core
from chat.events import Audience
from chat.rules.moderation_input import FILTER_REASON
from chat.timeutil import iso
from chat.vocab import Role


def is_moderator(role: str, user: Optional[Dict[str, Any]], school: str) -> bool:
    """A school's admins, and the users of that school its roster marks ``safeguarding``."""
    if role == Role.ADMIN:
        return True
    return user is not None and user.get("school") == school and user.get("safeguarding") == school


def case_view(case: Dict[str, Any]) -> Dict[str, Any]:
    """A case as moderators see it."""
    return {"id": case["id"], "kind": case["kind"], "status": case["status"],
            "reasons": list(case.get("reasons") or []), "reportCount": int(case.get("reportCount", 0)),
            "lists": list(case.get("lists") or []), "filterHits": int(case.get("filterHits", 0)),
            "subjectId": case["subjectId"], "subjectName": case.get("subjectName") or case["subjectId"],
            "messageId": case.get("messageId"), "conversationId": case.get("conversationId"),
            "createdAt": iso(case["createdAt"]), "updatedAt": iso(case["updatedAt"]),
            "escalatedAt": iso(case.get("escalatedAt"))}


async def push_case(core: Core, case: Dict[str, Any]) -> None:
    """To the school's moderators' sockets (only connected ones receive it), never to the
    case's subject (the reported user learns nothing, moderator or not)."""
    moderators = [m for m in await core.store.directory.moderator_ids(case["school"]) if m != case["subjectId"]]
    if moderators:
        core.events.case_changed(case_view(case), Audience(case["school"], moderators))


class FilterCases:
    """Opens (or adds to) the cases of what the word filter found (see the module doc)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _now(self) -> int:
        return int(self.core.clock.time() * 1000)

    async def flagged_message(self, ident: Identity, school: str, conversation_id: str, message_id: str,
                              lists: Sequence[str]) -> None:
        """A message (or an edit of it) matched ``flag`` lists: the message's case."""
        await self._open({"key": "message:" + message_id, "kind": "message", "messageId": message_id,
                          "conversationId": conversation_id}, ident, school, lists, reopen=True)

    async def repeated_blocks(self, ident: Identity, school: str, conversation_id: Optional[str],
                              list_name: str) -> None:
        """A sender's texts were blocked ``filter_repeat_blocks`` times in the window."""
        await self._open({"key": "repeated_blocks:%s:%s" % (school, ident.user_id), "kind": "repeated_blocks",
                          "messageId": None, "conversationId": conversation_id}, ident, school, [list_name],
                         reopen=True)

    async def _open(self, fields: Dict[str, Any], ident: Identity, school: str, lists: Sequence[str],
                    reopen: bool) -> None:
        cases = self.core.store.cases
        now = self._now()
        names = list(dict.fromkeys(lists))
        case, created = await cases.open_case(dict(
            fields, school=school, status="open", reasons=[FILTER_REASON], reportCount=0, lists=names,
            filterHits=1, subjectId=ident.user_id, subjectName=ident.name or ident.user_id, createdAt=now,
            updatedAt=now, escalatedAt=None))
        if not created:
            case = await cases.add_filter_hit(case["id"], names, now, reopen) or case
        await push_case(self.core, case)
