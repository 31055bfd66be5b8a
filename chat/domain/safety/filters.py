"""Word filters (safeguarding §5): each school's word lists, checked on every message, edit,
attachment name and conversation title.

A ``block`` list refuses the text with ``content_blocked``, naming the list (never the word);
a ``flag`` list lets it through, records a flag (``filter_flags``) and opens (or adds to) the
message's moderation case with the reason ``filter`` and the list's name
(:mod:`chat.domain.safety.cases`). A sender whose texts are blocked ``filter_repeat_blocks``
times within ``filter_repeat_minutes`` gets a flag and a ``repeated_blocks`` case too (counted
per node, in memory). A flagged title is recorded as a flag only (there is no message to read).
The text itself is never logged or stored with a flag or a case.

Each school's lists are compiled into one automaton (:class:`chat.rules.textmatch.Matcher`),
kept in memory and used for ``filter_cache_seconds``; then one small read of the school's
version number tells whether another node changed them (a change made on this node is seen at
once; another node's is announced and dropped here at once, :mod:`chat.domain.safety.changes`,
and the version read is the fallback within ``filter_cache_seconds``).
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from chat.auth import Identity
from chat.clock import Clock
from chat.domain.core import Core
from chat.domain.safety.cases import FilterCases
from chat.domain.safety.gate import Post, SafetyRule
from chat.errors import ContentBlocked
from chat.live.convcache import ConvState
from chat.rules.textmatch import Matcher
from chat.settings import Settings
from chat.store.filter_repo import Filters

log = logging.getLogger("chat.filters")

BLOCK = "block"
FLAG = "flag"
ACTIONS = (FLAG, BLOCK)
#: the ``list`` of a flag recorded for repeated blocks names the list; its ``kind`` says why
KIND_MATCH = "match"
KIND_REPEATED = "repeated_blocks"
#: senders whose recent blocks are remembered at most (the oldest are forgotten past it)
MAX_TRACKED_SENDERS = 100_000


@dataclasses.dataclass
class Compiled:
    """One school's lists, compiled, and when this node last checked their version."""

    version: int
    lists: List[Dict[str, Any]]
    matcher: Matcher
    checked: float

    def matches(self, text: str) -> List[Dict[str, Any]]:
        """The lists with a term in ``text``, in their order."""
        found = self.matcher.lists_in(text)
        return [self.lists[i] for i in sorted(found)]


def compile_lists(version: int, lists: List[Dict[str, Any]], now: float) -> Compiled:
    """The automaton of these lists (CPU only)."""
    return Compiled(version, lists, Matcher([lst.get("terms", []) for lst in lists]), now)


class FilterBook:
    """Every school's compiled filter on this node (read through from storage)."""

    def __init__(self, repo: Filters, clock: Clock, settings: Settings) -> None:
        self.repo = repo
        self.clock = clock
        self.settings = settings
        self._schools: Dict[str, Compiled] = {}
        self._loading: Dict[str, "asyncio.Future[Compiled]"] = {}

    async def get(self, school: str) -> Compiled:
        """The school's filter, at most ``filter_cache_seconds`` behind storage."""
        now = self.clock.monotonic()
        have = self._schools.get(school)
        if have is not None and now - have.checked < self.settings.filter_cache_seconds:
            return have
        if have is not None:
            have.checked = now  # the sends meanwhile use this copy: one version read per school
            if await self.repo.version(school) == have.version:
                return have
        pending = self._loading.get(school)
        if pending is not None:  # one load per school at a time, however many senders wait
            return await asyncio.shield(pending)
        future: "asyncio.Future[Compiled]" = asyncio.get_running_loop().create_future()
        self._loading[school] = future
        try:
            doc = await self.repo.get(school)
            compiled = compile_lists(int(doc.get("version", 0)) if doc else 0,
                                     list(doc.get("lists", [])) if doc else [], now)
            if self._loading.get(school) is future:  # else forgotten meanwhile: maybe older than the change
                self._schools[school] = compiled
            future.set_result(compiled)
            return compiled
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a waiter-less failure is not "never retrieved"
            raise
        finally:
            if self._loading.get(school) is future:
                del self._loading[school]

    def forget(self, school: str) -> None:
        """Another node changed the school's lists: compile them again on next use (a load
        under way may predate the change: it is not waited for)."""
        self._schools.pop(school, None)
        self._loading.pop(school, None)

    def put(self, school: str, doc: Dict[str, Any]) -> Compiled:
        """What this node just stored: used at once."""
        compiled = compile_lists(int(doc.get("version", 0)), list(doc.get("lists", [])), self.clock.monotonic())
        self._schools[school] = compiled
        return compiled


class WordFilter(SafetyRule):
    """Blocks or flags texts by the school's word lists (see the module doc)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.book = FilterBook(core.store.filters, core.clock, core.settings)
        self.cases = FilterCases(core)
        self._blocks: "collections.OrderedDict[Tuple[str, str], Deque[float]]" = collections.OrderedDict()

    async def check_post(self, ident: Identity, state: ConvState, post: Post) -> None:
        compiled = await self.book.get(state.school)
        if not compiled.lists:
            return
        hits = [(field, lst) for field, text in self._texts(post) for lst in compiled.matches(text)]
        if not hits:
            return
        await self._refuse_blocked(ident, state.school, state.id, hits)
        post.flags.extend({"list": lst["name"], "field": field} for field, lst in hits)
        if post.edit_of is not None:  # an edit has no after_post: its flags are recorded now
            await self._record(ident, state.school, state.id, post.edit_of, post.flags)
            await self._open_case(ident, state, post.edit_of, post.flags)

    async def check_title(self, ident: Identity, state: Optional[ConvState], title: str) -> None:
        school = state.school if state is not None else ident.school
        compiled = await self.book.get(school)
        if not compiled.lists:
            return
        hits = [("title", lst) for lst in compiled.matches(title)]
        if not hits:
            return
        conversation_id = state.id if state is not None else None
        await self._refuse_blocked(ident, school, conversation_id, hits)
        await self._record(ident, school, conversation_id, None, [{"list": lst["name"], "field": f} for f, lst in hits])

    async def after_post(self, ident: Identity, state: ConvState, post: Post, message: Dict[str, Any]) -> None:
        if post.flags:
            try:
                await self._record(ident, state.school, state.id, message.get("id"), post.flags)
            except Exception:  # the message is delivered; a lost flag must not fail the send
                log.warning("could not record a word-filter flag for message %s", message.get("id"), exc_info=True)
            await self._open_case(ident, state, str(message.get("id")), post.flags)

    async def _open_case(self, ident: Identity, state: ConvState, message_id: str,
                         flags: Sequence[Dict[str, Any]]) -> None:
        """The message's case, for the moderators (a failure is logged: the message stands)."""
        try:
            await self.cases.flagged_message(ident, state.school, state.id, message_id, [f["list"] for f in flags])
        except Exception:
            log.warning("could not open the word-filter case of message %s", message_id, exc_info=True)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _texts(post: Post) -> List[Tuple[str, str]]:
        texts = [("text", post.text)] if post.text else []
        texts.extend(("attachment", name) for name in post.attachment_names if name)
        return texts

    async def _refuse_blocked(self, ident: Identity, school: str, conversation_id: Optional[str],
                              hits: Sequence[Tuple[str, Dict[str, Any]]]) -> None:
        blocked = next((lst for _field, lst in hits if lst.get("action") == BLOCK), None)
        if blocked is None:
            return
        if self._repeated(school, ident.user_id):
            await self._record(ident, school, conversation_id, None,
                               [{"list": blocked["name"], "field": "text"}], KIND_REPEATED)
            try:
                await self.cases.repeated_blocks(ident, school, conversation_id, blocked["name"])
            except Exception:  # the refusal is the answer whatever happens to the case
                log.warning("could not open a repeated-blocks case", exc_info=True)
        raise ContentBlocked("not sent: contains words the school does not allow (list: %s)" % blocked["name"])

    def _repeated(self, school: str, user_id: str) -> bool:
        """Count one block; True when it makes ``filter_repeat_blocks`` within the window (the
        count then starts again)."""
        threshold = self.core.settings.filter_repeat_blocks
        if threshold <= 0:
            return False
        now = self.core.clock.monotonic()
        window = self.core.settings.filter_repeat_minutes * 60
        key = (school, user_id)
        times = self._blocks.pop(key, None) or collections.deque()
        times.append(now)
        while times and now - times[0] > window:
            times.popleft()
        if len(times) >= threshold:
            return True
        self._blocks[key] = times
        while len(self._blocks) > MAX_TRACKED_SENDERS:
            self._blocks.popitem(last=False)
        return False

    async def _record(self, ident: Identity, school: str, conversation_id: Optional[str], message_id: Optional[str],
                      flags: Sequence[Dict[str, Any]], kind: str = KIND_MATCH) -> None:
        at = int(self.core.clock.time() * 1000)
        seen = set()
        for flag in flags:
            key = (flag["list"], flag["field"])
            if key in seen:
                continue
            seen.add(key)
            await self.core.store.filters.add_flag({
                "school": school, "conversationId": conversation_id, "messageId": message_id,
                "senderId": ident.user_id, "list": flag["list"], "field": flag["field"], "kind": kind, "at": at})
