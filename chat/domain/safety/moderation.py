"""Reports and the moderation queue (README "Reports and moderation").

Anyone reports a message they can see, or a user of their school; reports of the same message
(or user) join one case, whose unique ``key`` decides between concurrent reports. A reporter
is answered the case id and its status; the reported user learns nothing. The school's
moderators (its admins and the users the roster marks ``safeguarding``) see the cases of their
school only (never a case about themselves: that one is for the others), read a case with the
message's context (each read is recorded, and audited as ``moderation.case_read``), and act
on it (audited as ``moderation.action``): keep, remove the message (the ordinary
soft delete: the participants see it deleted), mute the author in that conversation for some
hours (a conversation mute whose ``reason`` is the case, :mod:`chat.domain.safety.blocks`),
escalate. Every action is recorded on the
case with who and when, and each change is pushed to the school's moderators
(``moderation:case``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.domain.messages import MessageActions
from chat.domain.oversight.audit import AuditAction
from chat.domain.safety.blocks import BlockActions
from chat.domain.safety.cases import case_view, is_moderator, push_case
from chat.errors import Conflict, Forbidden, NotFound
from chat.rules import render
from chat.rules.moderation_input import CASE_REASONS, STATUSES, CaseChange
from chat.timeutil import iso, now_ms
from chat.vocab import Role

#: messages of context shown on either side of a reported one
CONTEXT = 10


def _moderator_message(doc: Dict[str, Any], edits: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A message as a moderator reads it: a deleted one keeps its text (kept for this), with
    the earlier texts of its edits."""
    view = render.message(doc)
    view["text"] = doc.get("text")
    view["attachments"] = list(doc.get("attachments") or [])
    view["deletedBy"] = doc.get("deletedBy")
    view["edits"] = [{"text": e.get("text"), "editorId": e.get("editorId"), "editedAt": iso(e.get("editedAt"))}
                     for e in edits]
    return view


def _target(case: Dict[str, Any]) -> Dict[str, Any]:
    """What an audit entry about a case names (ids only)."""
    return {"caseId": case["id"], "userId": case["subjectId"], "messageId": case.get("messageId"),
            "conversationId": case.get("conversationId")}


class ModerationActions:
    """Report, list, read, act on and count cases (see the module doc)."""

    def __init__(self, core: Core, messages: MessageActions, blocks: BlockActions) -> None:
        self.core = core
        self.messages = messages
        self.blocks = blocks

    # ------------------------------------------------------------------ reports
    async def report_message(self, ident: Identity, message_id: str, reason: str, note: Optional[str]
                             ) -> Tuple[Dict[str, Any], bool]:
        """Report a message the caller can see (another school's: 404; not a participant:
        403). Returns ({caseId, status}, whether the case is new)."""
        msg = await self.core.store.messages.get(message_id)
        if msg is None:
            raise NotFound("no such message")
        state = await self.core.cache.get(msg["conversationId"])
        if state.school != ident.school:
            raise NotFound("no such message")
        if ident.user_id not in state.roles:
            raise Forbidden("not a participant of this conversation")
        if msg["senderId"] == ident.user_id:
            raise Conflict("you cannot report your own message")
        return await self._report(ident, {
            "key": "message:" + message_id, "kind": "message", "messageId": message_id,
            "conversationId": state.id, "subjectId": msg["senderId"],
            "subjectName": msg.get("senderName") or msg["senderId"]}, reason, note)

    async def report_user(self, ident: Identity, user_id: str, reason: str, note: Optional[str]
                          ) -> Tuple[Dict[str, Any], bool]:
        """Report a user of the caller's school (unknown or another school's: 404)."""
        user = await self.core.store.directory.get_user(user_id)
        if user is None or user.get("school") != ident.school:
            raise NotFound("no such user")
        if user_id == ident.user_id:
            raise Conflict("you cannot report yourself")
        return await self._report(ident, {
            "key": "user:%s:%s" % (ident.school, user_id), "kind": "user", "messageId": None,
            "conversationId": None, "subjectId": user_id, "subjectName": user.get("name") or user_id},
            reason, note)

    async def _report(self, ident: Identity, fields: Dict[str, Any], reason: str, note: Optional[str]
                      ) -> Tuple[Dict[str, Any], bool]:
        cases = self.core.store.cases
        now = now_ms()
        case, created = await cases.open_case(dict(fields, school=ident.school, status="open", reasons=[reason],
                                                   reportCount=0, createdAt=now, updatedAt=now,
                                                   escalatedAt=None))
        fresh = await cases.add_report({"caseId": case["id"], "reporterId": ident.user_id,
                                        "reporterName": ident.name, "reason": reason, "note": note,
                                        "createdAt": now})
        if fresh:  # a second report by the same reporter adds nothing
            change: Dict[str, Any] = {"updatedAt": now}
            if case["status"] == "resolved":
                change["status"] = "open"  # a new report reopens a resolved case
            case = await cases.update(case["id"], change, inc={"reportCount": 1}, reason=reason) or case
            await self._push(case)
        return {"caseId": case["id"], "status": case["status"]}, created

    # ------------------------------------------------------------------ the queue
    async def check_moderator(self, ident: Identity) -> None:
        """403 unless the caller moderates its school."""
        user = None if ident.role == Role.ADMIN else await self.core.store.directory.get_user(ident.user_id)
        if not is_moderator(ident.role, user, ident.school):
            raise Forbidden("only the school's moderators see cases")

    async def _case(self, ident: Identity, case_id: str) -> Dict[str, Any]:
        await self.check_moderator(ident)
        case = await self.core.store.cases.get(case_id)
        # a case about a moderator is for the school's other moderators
        if case is None or case.get("school") != ident.school or case["subjectId"] == ident.user_id:
            raise NotFound("no such case")
        return case

    async def list(self, ident: Identity, status: Optional[str], before: Optional[str], limit: int
                   ) -> Tuple[List[Dict[str, Any]], bool, Optional[str]]:
        """The school's cases, newest first; ``next`` is the ``next`` of the older page."""
        await self.check_moderator(ident)
        docs = await self.core.store.cases.page(ident.school, status, before, limit + 1, ident.user_id)
        has_more = len(docs) > limit
        page = [case_view(d) for d in docs[:limit]]
        return page, has_more, (page[-1]["id"] if has_more and page else None)

    async def detail(self, ident: Identity, case_id: str) -> Dict[str, Any]:
        """The case, its reports and actions, and for a message its context (about
        :data:`CONTEXT` messages either side, edits included). The read is recorded."""
        case = await self._case(ident, case_id)
        cases = self.core.store.cases
        await cases.record_read({"caseId": case["id"], "actorId": ident.user_id, "school": ident.school,
                                 "at": now_ms()})
        await self.core.audit.record(ident.user_id, AuditAction.CASE_READ, ident.school, _target(case),
                                     {"kind": case["kind"]})
        message, context = None, []
        if case["kind"] == "message":
            msg = await self.core.store.messages.get(case["messageId"])
            if msg is not None:
                store = self.core.store.messages
                before = await store.history(msg["conversationId"], msg["seq"], None, CONTEXT)
                after = await store.history(msg["conversationId"], None, msg["seq"], CONTEXT)
                docs = before + [msg] + after
                edits: Dict[str, List[Dict[str, Any]]] = {}
                for e in await cases.edits_of([d["id"] for d in docs]):
                    edits.setdefault(e["messageId"], []).append(e)
                context = [_moderator_message(d, edits.get(d["id"], [])) for d in docs]
                message = next(m for m in context if m["id"] == msg["id"])
        reports = [{"reporterId": r["reporterId"], "reporterName": r.get("reporterName") or r["reporterId"],
                    "reason": r["reason"], "note": r.get("note"), "createdAt": iso(r["createdAt"])}
                   for r in await cases.reports_of(case["id"])]
        actions = [{"actorId": a["actorId"], "actorName": a.get("actorName") or a["actorId"],
                    "action": a.get("action"), "status": a.get("status"), "note": a.get("note"),
                    "hours": a.get("hours"), "at": iso(a["at"])} for a in await cases.actions_of(case["id"])]
        return {"case": case_view(case), "reports": reports, "actions": actions, "message": message,
                "context": context}

    async def change(self, ident: Identity, case_id: str, req: CaseChange) -> Dict[str, Any]:
        """Set the status and/or take an action, recorded with who and when; answers the case."""
        case = await self._case(ident, case_id)
        now = now_ms()
        if req.action in ("remove_message", "mute_author") and case["kind"] != "message":
            raise Conflict("%s needs a case about a message" % req.action)
        fields: Dict[str, Any] = {"updatedAt": now}
        if req.action == "remove_message":
            await self._remove(ident, case)
        elif req.action == "mute_author":
            until = int(self.core.clock.time() * 1000) + req.hours * 3_600_000
            await self.blocks.mute_author(ident, case["conversationId"], case["subjectId"], until, case["id"])
        elif req.action == "escalate":
            fields["escalatedAt"] = now
        if req.status is not None:
            fields["status"] = req.status
        await self.core.store.cases.add_action({
            "caseId": case["id"], "actorId": ident.user_id, "actorName": ident.name, "action": req.action,
            "status": req.status, "note": req.note, "hours": req.hours if req.action == "mute_author" else None,
            "at": now})
        updated = await self.core.store.cases.update(case["id"], fields) or case
        await self.core.audit.record(ident.user_id, AuditAction.CASE_ACTION, ident.school, _target(case), {
            "action": req.action, "status": req.status, "statusBefore": case["status"],
            "hours": req.hours if req.action == "mute_author" else None})  # the note stays on the case
        await self._push(updated)
        return case_view(updated)

    async def _remove(self, ident: Identity, case: Dict[str, Any]) -> None:
        msg = await self.core.store.messages.get(case["messageId"])
        if msg is None:
            raise NotFound("the reported message is gone")
        state = await self.core.cache.get(msg["conversationId"])
        await self.messages.soft_delete(ident, msg, state)

    async def summary(self, ident: Identity) -> Dict[str, Any]:
        """Counts of the school's cases by status, and by reason (a case counts under each
        reason its reports gave)."""
        await self.check_moderator(ident)
        by_status, by_reason = await self.core.store.cases.counts(ident.school, STATUSES, CASE_REASONS, ident.user_id)
        return {"total": sum(by_status.values()), "byStatus": by_status, "byReason": by_reason}

    async def _push(self, case: Dict[str, Any]) -> None:
        await push_case(self.core, case)
