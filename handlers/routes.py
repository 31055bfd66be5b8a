"""The Tornado application: routes and their dependencies."""
from __future__ import annotations

import os
from typing import Any, List

import tornado.web

from chat.runtime import Runtime
from chat.vocab import Marker
from handlers import api, audit, blocks, filters, moderation as mod, openapi, oversight, retention, uploads as up
from handlers.base import NotFoundHandler
from handlers.bots import BotHandler, BotsHandler
from handlers.exports import EraseHandler, ExportFileHandler, ExportHandler, ExportsHandler
from handlers.forward import ForwardHandler  # notifications: forwarding
from handlers.metrics import MetricsHandler
from handlers.notifications import MyNotificationsHandler, SchoolNotificationsHandler, UnsubscribeHandler
from handlers.roster import RosterImportHandler
from handlers.scheduled import ScheduledHandler, ScheduledListHandler  # notifications: scheduled messages
from handlers.school_policy import SchoolPolicyHandler
from handlers.webhooks import DeadLettersHandler, ReplayHandler, WebhookHandler, WebhooksHandler
from handlers.ws import ChatSocket, SocketHub

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")

ID = r"([^/]+)"


def make_app(runtime: Runtime, **extra: Any) -> tornado.web.Application:
    """Build the application for a runtime (the only place routes are listed)."""
    deps = {"runtime": runtime}
    hub = SocketHub(runtime)
    files = {"runtime": runtime, "uploads": runtime.uploads}  # the message service uses the same instance
    document = openapi.build_document(runtime.settings, openapi.project_version(), uploads=True)
    routes: List[Any] = [
        (r"/api/health", api.HealthHandler, deps),
        (r"/api/me", api.MeHandler, deps),
        (r"/api/users", api.UsersHandler, deps),
        (r"/api/conversations", api.ConversationsHandler, deps),
        (r"/api/conversations/%s" % ID, api.ConversationHandler, deps),
        (r"/api/conversations/%s/participants" % ID, api.ParticipantsHandler, deps),
        (r"/api/conversations/%s/participants/%s" % (ID, ID), api.ParticipantHandler, deps),
        (r"/api/conversations/%s/messages" % ID, api.MessagesHandler, deps),
        (r"/api/conversations/%s/read" % ID, api.MarkerHandler, {"runtime": runtime, "kind": Marker.READ}),
        (r"/api/conversations/%s/delivered" % ID, api.MarkerHandler, {"runtime": runtime, "kind": Marker.DELIVERED}),
        (r"/api/messages/%s" % ID, api.MessageHandler, deps),
        (r"/api/messages/%s/reactions/%s" % (ID, ID), api.ReactionHandler, deps),
        (r"/api/messages/%s/receipts" % ID, api.ReceiptsHandler, deps),
        (r"/api/search", api.SearchHandler, deps),
        (r"/api/unread", api.UnreadHandler, deps),
        (r"/api/presence", api.PresenceHandler, deps),
        (r"/api/classes/mine", api.MyClassesHandler, deps),
        (r"/api/demo/users", api.DemoUsersHandler, deps),
        (r"/api/demo/token", api.DemoTokenHandler, deps),
        (r"/api/openapi\.json", openapi.OpenApiHandler, {"runtime": runtime, "document": document}),
        (r"/api/docs", openapi.DocsHandler, {"runtime": runtime, "page": openapi.docs_page(STATIC_DIR)}),
        # uploads (README "Uploads")
        (r"/api/uploads", up.UploadHandler, files),
        (r"/api/uploads/links", up.UploadLinksHandler, files),
        (r"/api/uploads/%s" % ID, up.UploadFileHandler, dict(files, variant="file")),
        (r"/api/uploads/%s/thumbnail" % ID, up.UploadFileHandler, dict(files, variant="thumbnail")),
        # --- web client: roster import (add below)
        (r"/api/roster/import", RosterImportHandler, deps),

        # --- safeguarding: school policy (add below)
        (r"/api/schools/%s/policy" % ID, SchoolPolicyHandler, deps),

        # --- safeguarding: reports and moderation (add below)
        (r"/api/messages/%s/report" % ID, mod.ReportMessageHandler, deps),
        (r"/api/users/%s/report" % ID, mod.ReportUserHandler, deps),
        (r"/api/moderation/cases", mod.CasesHandler, deps),
        (r"/api/moderation/cases/%s" % ID, mod.CaseHandler, deps),
        (r"/api/moderation/summary", mod.SummaryHandler, deps),

        # --- safeguarding: blocks, mutes, slow mode (add below)
        (r"/api/blocks", blocks.BlocksHandler, deps),
        (r"/api/blocks/%s" % ID, blocks.BlockHandler, deps),
        (r"/api/conversations/%s/mutes" % ID, blocks.MutesHandler, deps),
        (r"/api/conversations/%s/mutes/%s" % (ID, ID), blocks.MuteHandler, deps),

        # --- safeguarding: word filters (add below)
        (r"/api/schools/%s/filters" % ID, filters.SchoolFiltersHandler, deps),

        # --- oversight: audit log (add below)
        (r"/api/audit", audit.AuditHandler, deps),

        # --- oversight: access grants (add below)
        (r"/api/oversight/grants", oversight.GrantsHandler, deps),

        # --- oversight: retention and holds (add below)
        (r"/api/schools/%s/retention" % ID, retention.SchoolRetentionHandler, deps),
        (r"/api/holds", retention.HoldsHandler, deps),
        (r"/api/holds/users/%s" % ID, retention.HoldHandler, {"runtime": runtime, "kind": "user"}),
        (r"/api/holds/conversations/%s" % ID, retention.HoldHandler, {"runtime": runtime, "kind": "conversation"}),

        # --- oversight: export and erasure (add below)
        (r"/api/exports", ExportsHandler, deps),
        (r"/api/exports/%s" % ID, ExportHandler, deps),
        (r"/api/exports/%s/download" % ID, ExportFileHandler, deps),
        (r"/api/users/%s/erase" % ID, EraseHandler, deps),

        # --- oversight: quiet hours (add below)

        # --- notifications: missed-message email (add below)
        (r"/api/me/notifications", MyNotificationsHandler, deps),
        (r"/api/schools/%s/notifications" % ID, SchoolNotificationsHandler, deps),
        (r"/api/notifications/unsubscribe", UnsubscribeHandler, deps),

        # --- notifications: webhooks (add below)
        (r"/api/webhooks", WebhooksHandler, deps),
        (r"/api/webhooks/%s" % ID, WebhookHandler, deps),
        (r"/api/webhooks/%s/dead-letters" % ID, DeadLettersHandler, deps),
        (r"/api/webhooks/%s/dead-letters/replay" % ID, ReplayHandler, deps),

        # --- notifications: bots (add below)
        (r"/api/bots", BotsHandler, deps),
        (r"/api/bots/%s" % ID, BotHandler, deps),

        # --- notifications: scheduled messages (add below)
        (r"/api/scheduled", ScheduledListHandler, deps),
        (r"/api/scheduled/%s" % ID, ScheduledHandler, deps),

        # --- notifications: forwarding (add below)
        (r"/api/messages/%s/forward" % ID, ForwardHandler, deps),

        (r"/ws", ChatSocket),
        (r"/metrics", MetricsHandler, deps),
        (r"/api/.*", NotFoundHandler, deps),
        (r"/()", tornado.web.StaticFileHandler, {"path": STATIC_DIR, "default_filename": "index.html"}),
        (r"/(.+)", tornado.web.StaticFileHandler, {"path": STATIC_DIR}),
    ]
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=deps,
        compress_response=False,
        hub=hub,
        runtime=runtime,
        uploads=runtime.uploads,
        websocket_max_message_size=runtime.settings.ws_max_message_size,
        **extra,
    )
