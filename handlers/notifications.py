"""REST handlers of missed-message email (README "Missed-message email"): the caller's
preferences, the school's setting (admins) and the signed one-click unsubscribe link. Each
method: parse, authorize, one service call, render."""
from __future__ import annotations

import html

from handlers.base import ApiHandler

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
<h1>%(title)s</h1>%(body)s</body></html>
"""


class MyNotificationsHandler(ApiHandler):
    """``GET``/``PATCH /api/me/notifications``: the caller's email preferences."""

    async def get(self) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.notifications.mine(ident))

    async def patch(self) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.notifications.change(ident, self.body()))


class SchoolNotificationsHandler(ApiHandler):
    """``GET``/``PUT /api/schools/{schoolId}/notifications``: the school's admins only."""

    async def get(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.notifications.school(ident, school_id))

    async def put(self, school_id: str) -> None:
        ident = await self.identity()
        self.send(await self.runtime.service.notifications.change_school(ident, school_id, self.body()))


class UnsubscribeHandler(ApiHandler):
    """``/api/notifications/unsubscribe?u=&sig=``: ``POST`` is RFC 8058's one-click unsubscribe
    (no token: the signature is the authority; the body, ``List-Unsubscribe=One-Click``, is not
    read); ``GET`` (a person following the link in the email) only shows a page whose button
    posts, so that a link scanner fetching it unsubscribes no one."""

    def _link(self) -> tuple:
        """``u`` and ``sig`` as sent (any text: a wrong link is a 403, never malformed input)."""
        return self.get_query_argument("u", None), self.get_query_argument("sig", None)

    def _page(self, title: str, body: str) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", "default-src 'none'; form-action 'self'; style-src 'unsafe-inline'")
        self.finish(PAGE % {"title": html.escape(title), "body": body})

    def get(self) -> None:
        self.runtime.service.notifications.check_link(*self._link())
        self._page("Stop missed-message email?", (
            '<p>You will get no more emails about unread messages. You can turn them on again in the chat\'s '
            'settings.</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<input type="hidden" name="page" value="1"><button type="submit">Unsubscribe</button></form>'))

    async def post(self) -> None:
        result = await self.runtime.service.notifications.unsubscribe(*self._link())
        if self.get_body_argument("page", None) == "1":
            self._page("Unsubscribed", "<p>You will get no more emails about unread messages.</p>")
            return
        self.send(result)
