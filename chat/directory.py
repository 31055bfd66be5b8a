"""The directory as users meet it: who a token speaks for, and whom one can find."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from chat.auth import Identity
from chat.core import Core
from chat.errors import BadRequest
from chat.timeutil import now_ms


class DirectoryActions:
    """Token users upserted once per change (not per request) and same-school look-ups."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._seen: Dict[str, Tuple[str, str, str]] = {}
        self._names: Dict[str, str] = {}

    async def touch_identity(self, ident: Identity) -> Identity:
        """Upsert the token's user into the directory and fill in its display name: token
        claim, else directory, else id."""
        key = (ident.name, ident.role, ident.school)
        if self._seen.get(ident.user_id) != key:
            users = self.core.store.directory
            await users.upsert_user(ident.user_id, ident.name, ident.role, ident.school, now_ms())
            self._seen[ident.user_id] = key
            if ident.name:
                self._names[ident.user_id] = ident.name
            else:
                user = await users.get_user(ident.user_id)
                self._names[ident.user_id] = (user or {}).get("name") or ident.user_id
        name = ident.name or self._names.get(ident.user_id) or ident.user_id
        if name == ident.name:
            return ident
        return Identity(ident.user_id, ident.role, ident.school, name, ident.exp)

    async def list_users(self, ident: Identity, q: str, role: str, limit: int) -> List[Dict[str, Any]]:
        """Same-school directory search (for starting conversations)."""
        users = await self.core.store.directory.find_users(ident.school, q, role, limit)
        online = self.core.online
        return [{"id": u["id"], "name": u.get("name") or u["id"], "role": u["role"], "online": online(u["id"])}
                for u in users]

    async def same_school(self, ident: Identity, user_ids: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        """These users, all of the caller's school (400 otherwise)."""
        users = await self.core.store.directory.get_users(user_ids)
        for uid in user_ids:
            user = users.get(uid)
            if user is None or user.get("school") != ident.school:
                # one message for both: never reveal whether an id exists in another school
                raise BadRequest("unknown user %s" % uid)
        return users
