"""The directory as users meet it: who a token speaks for, and whom one can find."""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Sequence, Set, Tuple

from chat.auth import Identity
from chat.domain.core import Core
from chat.errors import ChatError, Forbidden, Unavailable
from chat.singleflight import SingleFlight
from chat.timeutil import now_ms

log = logging.getLogger("chat.directory")


class DirectoryActions:
    """Token users upserted once per change (not per request) and same-school look-ups.

    What the directory holds for each user (name, role, school) is read in pages at start-up
    (or by the first caller) and again after a roster import, so that a user the roster or an
    earlier session already stored costs a handshake no write: after a restart a whole school
    reconnects, and one upsert each would queue thousands of writes behind the database's
    single lock.
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self._known: Dict[str, Tuple[str, str, str]] = {}   # user -> (directory name, role, school)
        self._erased: Set[str] = set()  # users whose entry an erasure anonymised (until a roster names them)
        self._loaded = False
        self._loading = SingleFlight()
        self._version = -1
        self._checked = float("-inf")
        self._emails: Dict[str, str] = {}  # user -> the token address written (notifications: missed-message email)

    async def load(self) -> None:
        """Read every user once (single flight), and again when a roster import (of any
        process) moved the roster version, checked at most every ``roster_refresh`` seconds;
        a failure is retried by the next caller."""
        if self._loaded and self.core.clock.monotonic() - self._checked < self.core.settings.roster_refresh:
            return
        await self._loading.run(self._refresh)

    async def _refresh(self) -> None:
        clock = self.core.clock
        directory = self.core.store.directory
        try:
            version = await directory.roster_version()
        except ChatError:
            if not self._loaded:
                raise
            # storage is down: what is held serves until the next check
            log.warning("could not check the roster version; names stay as read before")
            self._checked = clock.monotonic()
            return
        self._checked = clock.monotonic()
        if version != self._version:
            users = await directory.identities()
            known = {user["id"]: (user.get("name") or "", user.get("role") or "", user.get("school") or "")
                     for user in users}
            self._erased = {user["id"] for user in users if user.get("erasedAt") is not None}
            for uid, entry in self._known.items():
                known.setdefault(uid, entry)  # upserted while the pages were read, or by this process
            self._known = known
            self._version = version
        self._loaded = True

    async def touch_identity(self, ident: Identity) -> Identity:
        """Upsert the token's user into the directory when it holds something else, and fill
        in its display name: token claim, else directory, else id."""
        await self.load()
        if ident.name and ident.user_id in self._erased:
            # an erased user's name comes back only with a roster import, never from a token
            ident = Identity(ident.user_id, ident.role, ident.school, "", ident.exp)
        known = self._known.get(ident.user_id)
        if known is None or known[1:] != (ident.role, ident.school) or (ident.name and ident.name != known[0]):
            users = self.core.store.directory
            try:
                await users.upsert_user(ident.user_id, ident.name, ident.role, ident.school, now_ms())
            except Unavailable:
                # storage takes no writes (a full disk, say): the request goes on as the token
                # says, for a read must not depend on a write; the next request tries again
                log.warning("directory entry of a token user not written (storage unavailable)")
            else:
                name = ident.name
                if not name:  # the upsert kept the directory's name, if it had one
                    name = (known or ("", "", ""))[0] or ((await users.get_user(ident.user_id)) or {}).get("name") or ""
                known = (name, ident.role, ident.school)
                self._known[ident.user_id] = known
        if ident.email and self._emails.get(ident.user_id) != ident.email:  # notifications: missed-message email
            await self._note_email(ident)
        name = ident.name or (known[0] if known else "") or ident.user_id
        if name == ident.name:
            return ident
        return Identity(ident.user_id, ident.role, ident.school, name, ident.exp, ident.email)

    async def _note_email(self, ident: Identity) -> None:
        """Keep the token's ``email`` claim (``users.tokenEmail``; a roster's ``email`` wins)."""
        try:
            await self.core.store.directory.set_token_email(ident.user_id, ident.email)
        except Unavailable:
            return  # the next request tries again
        if len(self._emails) > 100_000:
            self._emails.clear()
        self._emails[ident.user_id] = ident.email

    def erased(self, user_id: str, name: str) -> None:
        """An erasure (here or on another node) anonymised the user's entry: its copy here
        takes the new name, and token name claims no longer replace it."""
        self._erased.add(user_id)
        known = self._known.get(user_id)
        if known is not None:
            self._known[user_id] = (name, known[1], known[2])

    async def users(self, user_ids: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        """Directory entries (``id``, ``name``, ``role``, ``school``) of these users, from
        memory; only ids it does not hold are read (absent from the result when unknown)."""
        if self.core.settings.redis_url:
            # in a cluster another node's upsert (a token with a new name) moves no roster version
            return await self.core.store.directory.get_users(user_ids)
        await self.load()
        found: Dict[str, Dict[str, Any]] = {}
        missing: List[str] = []
        for uid in set(user_ids):
            known = self._known.get(uid)
            if known is None:
                missing.append(uid)
            else:
                found[uid] = {"id": uid, "name": known[0], "role": known[1], "school": known[2]}
        if missing:
            for uid, user in (await self.core.store.directory.get_users(missing)).items():
                self._known[uid] = (user.get("name") or "", user.get("role") or "", user.get("school") or "")
                found[uid] = user
        return found

    async def list_users(self, ident: Identity, q: str, role: str, limit: int) -> List[Dict[str, Any]]:
        """Same-school directory search (for starting conversations)."""
        users = await self.core.store.directory.find_users(ident.school, q, role, limit)
        online = self.core.online
        return [{"id": u["id"], "name": u.get("name") or u["id"], "role": u["role"], "online": online(u["id"])}
                for u in users]

    async def same_school(self, ident: Identity, user_ids: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        """These users, all of the caller's school (403 otherwise: the request is well formed, the ids not allowed)."""
        users = await self.core.store.directory.get_users(user_ids)
        for uid in user_ids:
            user = users.get(uid)
            if user is None or user.get("school") != ident.school:
                # one message for both: never reveal whether an id exists in another school
                raise Forbidden("unknown user %s" % uid)
        return users
