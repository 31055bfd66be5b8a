"""Settings: every tunable has a documented default, an env var and a CLI flag.

The table ``OPTIONS`` is the single source: ``README.md`` documents the same names,
``add_arguments`` derives ``--flag-name`` from each entry, and a TOML config file
(``--config FILE``, see ``chat/ops/config_file.py``) takes the same names as keys.
Precedence: flags > environment > config file > defaults.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from chat.errors import BadRequest
from chat.rules.quiet_hours import parse_zone

#: the only spellings a boolean environment variable may have (anything else is an error, never false)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _bool(value: str) -> bool:
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("must be one of %s (true) or %s (false)" % (", ".join(TRUE_WORDS), ", ".join(FALSE_WORDS)))


def _list(value: str) -> List[str]:
    return [part.strip() for part in str(value).split(",") if part.strip()]


#: what uploads may be by default (sniffed from the bytes): common images, PDF, office documents,
#: plain text, audio and video
DEFAULT_UPLOAD_TYPES: Tuple[str, ...] = (
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp",
    "application/pdf", "text/plain",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "audio/mpeg", "audio/wav", "audio/ogg", "audio/mp4", "audio/flac", "audio/webm",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
)


# name, env var, parser, default, help
OPTIONS: List[Tuple[str, str, Callable[[str], Any], Any, str]] = [
    ("host", "CHAT_HOST", str, "127.0.0.1", "address to listen on"),
    ("port", "CHAT_PORT", int, 8888, "port to listen on"),
    ("data_dir", "CHAT_DATA_DIR", str, "./data", "directory for the embedded database, secret and state files"),
    ("mongodb_uri", "MONGODB_URI", str, "", "external MongoDB URI; empty starts the embedded nx-27017"),
    ("db_name", "CHAT_DB_NAME", str, "chat", "database name"),
    ("db_workers", "CHAT_DB_WORKERS", int, 8, "threads in the storage executor"),
    ("db_timeout_ms", "CHAT_DB_TIMEOUT_MS", int, 2000, "pymongo server selection / socket timeout"),
    ("jwt_secret", "CHAT_JWT_SECRET", str, "", "HS256 secret; empty: generated once into <data-dir>/jwt-secret"),
    ("jwt_public_key_file", "CHAT_JWT_PUBLIC_KEY_FILE", str, "", "PEM public key: verify RS256/ES256 instead of HS256"),
    ("jwt_private_key_file", "CHAT_JWT_PRIVATE_KEY_FILE", str, "", "PEM private key used only by the `token` command with a public key"),
    ("jwt_issuer", "CHAT_JWT_ISSUER", str, "", "required `iss` when set"),
    ("jwt_audience", "CHAT_JWT_AUDIENCE", str, "", "required `aud` when set"),
    ("jwt_leeway", "CHAT_JWT_LEEWAY", int, 30, "clock leeway in seconds"),
    ("max_body_bytes", "CHAT_MAX_BODY_BYTES", int, 65536, "largest REST body (413 above)"),
    ("http_max_header_bytes", "CHAT_HTTP_MAX_HEADER_BYTES", int, 32768,
     "largest request head (request line + headers): 431 `too_large` above; past 8x the connection is just closed"),
    ("http_discard_bytes", "CHAT_HTTP_DISCARD_BYTES", int, 8388608,
     "body bytes of a refused (413/431) request read and dropped so the client gets the answer, not a reset"),
    ("http_header_timeout", "CHAT_HTTP_HEADER_TIMEOUT", float, 30.0,
     "seconds a client has to send a request's headers (and an idle keep-alive connection stays open)"),
    ("http_body_timeout", "CHAT_HTTP_BODY_TIMEOUT", float, 60.0,
     "seconds a request body may go without a byte (408 `timeout`; a slow body is never cut; 0: no limit)"),
    ("max_title", "CHAT_MAX_TITLE", int, 200, "longest conversation title"),
    ("max_participants", "CHAT_MAX_PARTICIPANTS", int, 500, "most participants in a conversation"),
    ("max_text", "CHAT_MAX_TEXT", int, 4000, "longest message text after trimming"),
    ("max_attachments", "CHAT_MAX_ATTACHMENTS", int, 10, "most attachments per message"),
    ("max_reaction_emojis", "CHAT_MAX_REACTION_EMOJIS", int, 20, "most distinct emojis per message"),
    ("max_upload_bytes", "CHAT_MAX_UPLOAD_BYTES", int, 52428800,
     "largest upload (413 as soon as the body passes it)"),
    ("upload_types", "CHAT_UPLOAD_TYPES", _list, list(DEFAULT_UPLOAD_TYPES),
     "sniffed MIME types an upload may have (HTML, SVG, XML and executables are refused regardless)"),
    ("upload_quota_bytes", "CHAT_UPLOAD_QUOTA_BYTES", int, 524288000,
     "bytes one user may upload per UTC day (0: no quota)"),
    ("upload_backend", "CHAT_UPLOAD_BACKEND", str, "fs",
     "where uploads are stored: fs (<data-dir>/uploads) or gridfs (the MongoDB)"),
    ("upload_orphan_hours", "CHAT_UPLOAD_ORPHAN_HOURS", float, 24.0,
     "uploads never attached to a message are removed after this many hours"),
    ("upload_retention_days", "CHAT_UPLOAD_RETENTION_DAYS", float, 365.0,
     "files of deleted messages are kept this long for the school's audit, then removed"),
    ("upload_url_ttl", "CHAT_UPLOAD_URL_TTL", int, 600, "seconds a signed download URL stays valid"),
    ("upload_url_secret", "CHAT_UPLOAD_URL_SECRET", str, "",
     "HMAC key for signed download URLs; empty: derived from the JWT secret"),
    ("upload_thumbnail_px", "CHAT_UPLOAD_THUMBNAIL_PX", int, 320, "longest side of image thumbnails"),
    ("upload_max_pixels", "CHAT_UPLOAD_MAX_PIXELS", int, 50000000,
     "largest image (width x height) accepted; it is decoded to strip metadata and make a thumbnail"),
    ("upload_max_total_pixels", "CHAT_UPLOAD_MAX_TOTAL_PIXELS", int, 50000000,
     "largest width x height x frames of an image (every frame of an animation is decoded); 413 above"),
    ("upload_image_seconds", "CHAT_UPLOAD_IMAGE_SECONDS", float, 20.0,
     "seconds one image may take to be cleaned and thumbnailed (its worker process is killed past it: 413)"),
    ("upload_image_workers", "CHAT_UPLOAD_IMAGE_WORKERS", int, 2,
     "images cleaned at once, each in a short-lived worker process (more wait their turn)"),
    ("upload_max_name", "CHAT_UPLOAD_MAX_NAME", int, 200,
     "longest upload file name (longer names are shortened, keeping the extension)"),
    ("upload_sweep_interval", "CHAT_UPLOAD_SWEEP_INTERVAL", float, 600.0,
     "seconds between sweeps of orphaned and expired uploads (0 disables)"),
    ("ws_ping_interval", "CHAT_WS_PING_INTERVAL", float, 25.0, "seconds between WebSocket ping frames (0 disables)"),
    ("ws_ping_timeout", "CHAT_WS_PING_TIMEOUT", float, 20.0, "close a socket whose pong is this late (at most ws_ping_interval)"),
    ("ws_max_message_size", "CHAT_WS_MAX_MESSAGE_SIZE", int, 262144, "hard frame limit: larger frames close the socket (1009)"),
    ("ws_max_frame_bytes", "CHAT_WS_MAX_FRAME_BYTES", int, 65536, "soft frame limit: larger frames get `too_large`"),
    ("ws_max_pending_bytes", "CHAT_WS_MAX_PENDING_BYTES", int, 4194304, "close a slow consumer whose unsent data passes this"),
    ("allowed_origins", "CHAT_ALLOWED_ORIGINS", _list, [], "extra allowed WebSocket origins (same host always allowed); * allows any"),
    ("rate_messages", "CHAT_RATE_MESSAGES", float, 20.0, "sends per second per user (token bucket refill)"),
    ("rate_messages_burst", "CHAT_RATE_MESSAGES_BURST", float, 60.0, "send bucket size"),
    ("rate_frames", "CHAT_RATE_FRAMES", float, 60.0, "frames per second per user"),
    ("rate_frames_burst", "CHAT_RATE_FRAMES_BURST", float, 200.0, "frame bucket size"),
    ("rate_frame_bytes", "CHAT_RATE_FRAME_BYTES", int, 16384,
     "a frame costs one frame token per started this many bytes (taken before it is parsed)"),
    ("rate_typing", "CHAT_RATE_TYPING", float, 2.0, "typing events per second per user"),
    ("rate_typing_burst", "CHAT_RATE_TYPING_BURST", float, 10.0, "typing bucket size"),
    ("max_sockets_per_user", "CHAT_MAX_SOCKETS_PER_USER", int, 10,
     "open WebSockets one user may hold; a further one is closed with 4029"),
    ("listen_backlog", "CHAT_LISTEN_BACKLOG", int, 4096,
     "connections the kernel queues before they are accepted (capped by net.core.somaxconn); a school reconnecting at once overflows a small queue into multi-second SYN retries"),
    ("max_opening_sockets", "CHAT_MAX_OPENING_SOCKETS", int, 200,
     "WebSocket sessions set up at once; past it a handshake gets 503 with Retry-After (load shedding)"),
    ("shed_retry_after", "CHAT_SHED_RETRY_AFTER", float, 1.0, "seconds a shed handshake is told to wait (Retry-After)"),
    ("rate_strikes", "CHAT_RATE_STRIKES", int, 20,
     "refused frames (rate-limited or malformed) in a row before the socket is closed (1008)"),
    ("typing_timeout", "CHAT_TYPING_TIMEOUT", float, 5.0, "seconds after the last typing:start before the server sends typing:stop"),
    ("typing_debounce", "CHAT_TYPING_DEBOUNCE", float, 2.0, "repeated typing:start within this many seconds is not re-broadcast"),
    ("sync_cache_bytes", "CHAT_SYNC_CACHE_BYTES", int, 8388608,
     "memory for sync pages kept until their conversation changes (members reconnecting after a restart read storage once per conversation; 0 disables; off in a cluster)"),
    ("sync_limit", "CHAT_SYNC_LIMIT", int, 500, "most messages per conversation in one sync reply"),
    ("sync_max_messages", "CHAT_SYNC_MAX_MESSAGES", int, 2000, "most messages (new and changed) in one sync reply"),
    ("sync_max_bytes", "CHAT_SYNC_MAX_BYTES", int, 1048576,
     "about the most bytes of messages in one sync reply (keep well under ws_max_pending_bytes)"),
    ("sync_changed_limit", "CHAT_SYNC_CHANGED_LIMIT", int, 1000, "most changed messages in one sync reply"),
    ("unread_chunk", "CHAT_UNREAD_CHUNK", int, 100,
     "seqs one unread-counting query covers (one such query holds nx-27017's single lock at a time)"),
    ("unread_concurrency", "CHAT_UNREAD_CONCURRENCY", int, 1,
     "unread-counting queries in storage at once, server-wide; the others wait their turn, sends do not"),
    ("search_per_user", "CHAT_SEARCH_PER_USER", int, 2, "searches one user may run at once (429 past it)"),
    ("search_concurrency", "CHAT_SEARCH_CONCURRENCY", int, 8, "searches the server runs at once (429 past it)"),
    ("search_chunk", "CHAT_SEARCH_CHUNK", int, 5000, "messages one search query scans (newest first, chunk by chunk)"),
    ("search_index", "CHAT_SEARCH_INDEX", _bool, True,
     "keep a trigram full-text index of message texts beside the database, so search need not scan history"),
    ("search_index_path", "CHAT_SEARCH_INDEX_PATH", str, "",
     "the search index's file (each node keeps its own; default: search-index.sqlite3 in data_dir)"),
    ("search_index_interval", "CHAT_SEARCH_INDEX_INTERVAL", float, 2.0,
     "seconds between the indexer's passes over conversations with new or edited messages"),
    ("search_index_batch", "CHAT_SEARCH_INDEX_BATCH", int, 500,
     "messages the indexer reads from the database in one query (it holds nx-27017's single lock that long)"),
    ("write_linger", "CHAT_WRITE_LINGER", float, 0.004,
     "under load, seconds the message writer waits for a batch to fill (0 disables; idle senders never wait)"),
    ("conversation_flush", "CHAT_CONVERSATION_FLUSH", float, 1.0,
     "seconds before a conversation's lastSeq/lastMessage are written behind"),
    ("roster_refresh", "CHAT_ROSTER_REFRESH", float, 10.0,
     "seconds between checks whether a roster import changed the classes (kept in memory)"),
    ("last_seen_flush", "CHAT_LAST_SEEN_FLUSH", float, 2.0, "seconds within which lastSeenAt is written, many users at once"),
    ("redis_url", "CHAT_REDIS_URL", str, "",
     "Redis for several server processes on one database (e.g. redis://127.0.0.1:6379/0); empty: one process"),
    ("cluster_gap_timeout", "CHAT_CLUSTER_GAP_TIMEOUT", float, 0.5,
     "with Redis, seconds a node holds an out-of-order message before filling the gap from the database"),
    ("cluster_node_ttl", "CHAT_CLUSTER_NODE_TTL", float, 15.0,
     "with Redis, seconds after which a silent node's users count as offline (heartbeat every third of it)"),
    ("demo", "CHAT_DEMO", _bool, False, "seed a demo school and enable the demo sign-in routes (loopback only)"),
    ("log_level", "CHAT_LOG_LEVEL", str, "info", "logging level: debug, info, warning or error"),
    ("event_loop", "CHAT_EVENT_LOOP", str, "uvloop",
     "uvloop (libuv, faster: see README Performance) or asyncio (the standard library's)"),
    ("log_format", "CHAT_LOG_FORMAT", str, "text", "log lines as `text` or `json` (one object per line)"),
    ("tls_cert", "CHAT_TLS_CERT", str, "", "PEM certificate (chain): serve HTTPS and WSS directly (needs tls_key)"),
    ("tls_key", "CHAT_TLS_KEY", str, "", "PEM private key of tls_cert"),
    ("trusted_proxies", "CHAT_TRUSTED_PROXIES", _list, [],
     "CIDRs of reverse proxies whose X-Forwarded-For/-Proto/-Host are believed"),
    ("metrics_port", "CHAT_METRICS_PORT", int, 0,
     "serve /metrics on this loopback port only (0: on the main port; -1: disabled)"),
    ("metrics_allow", "CHAT_METRICS_ALLOW", _list, [],
     "CIDRs of clients the main port's /metrics also answers (loopback always; 0.0.0.0/0,::/0: anyone)"),
    ("embedded_log_max_bytes", "CHAT_EMBEDDED_LOG_MAX_BYTES", int, 10485760,
     "rotate <data-dir>/nx-27017.log past this size (0 never rotates)"),
    ("embedded_log_backups", "CHAT_EMBEDDED_LOG_BACKUPS", int, 3, "rotated embedded-database logs kept"),
    # --- safeguarding: school policy (add below)
    ("policy_student_direct", "CHAT_POLICY_STUDENT_DIRECT", str, "any",
     "default school policy: whom a student may start a direct conversation with (any, classmates, staff_only "
     "or none)"),
    ("policy_student_groups", "CHAT_POLICY_STUDENT_GROUPS", str, "allowed",
     "default school policy: student groups (allowed, supervised: a staff member stays in, or staff_only)"),
    ("policy_students_may_message_admins", "CHAT_POLICY_STUDENTS_MAY_MESSAGE_ADMINS", _bool, True,
     "default school policy: students may start direct conversations with admins and add them to groups"),
    ("policy_refresh", "CHAT_POLICY_REFRESH", float, 5.0,
     "in a cluster, seconds a node serves a school policy from memory before reading it again"),

    # --- safeguarding: reports and moderation (add below)
    ("rate_reports", "CHAT_RATE_REPORTS", float, 0.1, "reports per second per user (message and user reports share it)"),
    ("rate_reports_burst", "CHAT_RATE_REPORTS_BURST", float, 10.0, "report bucket size"),

    # --- safeguarding: blocks, mutes, slow mode (add below)
    ("block_cache_ttl", "CHAT_BLOCK_CACHE_TTL", float, 5.0,
     "with Redis, seconds a node trusts its cached blocks and conversation mutes (another node's change shows within it)"),

    # --- safeguarding: word filters (add below)
    ("filter_max_lists", "CHAT_FILTER_MAX_LISTS", int, 20, "most word lists one school's filter may have"),
    ("filter_max_terms", "CHAT_FILTER_MAX_TERMS", int, 10000, "most terms in one school's word lists together"),
    ("filter_max_term_chars", "CHAT_FILTER_MAX_TERM_CHARS", int, 64, "longest word-filter term (characters)"),
    ("filter_cache_seconds", "CHAT_FILTER_CACHE_SECONDS", float, 5.0,
     "seconds a node uses a school's compiled word filter before checking its version in storage (another node's change shows within this)"),
    ("filter_repeat_blocks", "CHAT_FILTER_REPEAT_BLOCKS", int, 3,
     "blocked messages by one sender within filter_repeat_minutes that record a flag for moderators (0: never)"),
    ("filter_repeat_minutes", "CHAT_FILTER_REPEAT_MINUTES", float, 10.0, "window of filter_repeat_blocks"),

    # --- oversight: audit log (add below)

    # --- oversight: access grants (add below)
    ("oversight_minutes", "CHAT_OVERSIGHT_MINUTES", float, 60.0,
     "minutes an oversight grant lets a school admin or safeguarding lead read one conversation"),

    # --- oversight: retention and holds (add below)
    ("retention_message_days", "CHAT_RETENTION_MESSAGE_DAYS", int, 0,
     "default school retention: days a message's content is kept before the sweep leaves a tombstone (0: forever)"),
    ("retention_case_days", "CHAT_RETENTION_CASE_DAYS", int, 90,
     "default school retention: days the evidence of a moderation case is kept after the case is resolved"),
    ("retention_sweep_interval", "CHAT_RETENTION_SWEEP_INTERVAL", float, 300.0,
     "seconds between retention sweeps (0: never sweep)"),
    ("retention_batch", "CHAT_RETENTION_BATCH", int, 50,
     "messages one retention storage call reads or purges (it holds nx-27017's single lock that long)"),
    ("retention_tick_batches", "CHAT_RETENTION_TICK_BATCHES", int, 200,
     "batches one retention sweep does at most; the rest waits for the next sweep (resumes from the cursor)"),

    # --- oversight: export and erasure (add below)
    ("export_batch", "CHAT_EXPORT_BATCH", int, 500,
     "documents one export storage call reads (what an export holds in memory at once)"),
    ("export_link_ttl", "CHAT_EXPORT_LINK_TTL", int, 600, "seconds a signed export download link stays valid"),
    ("export_keep_hours", "CHAT_EXPORT_KEEP_HOURS", int, 24,
     "hours a finished export archive is kept before it is deleted (the job then shows expired)"),
    ("export_sweep_interval", "CHAT_EXPORT_SWEEP_INTERVAL", int, 300,
     "seconds between export sweeps (expired archives, jobs of a killed process; 0: only at start-up)"),
    ("export_stale_seconds", "CHAT_EXPORT_STALE_SECONDS", int, 900,
     "seconds without a heartbeat after which a running export is failed (its process was killed or gone)"),
    ("export_page_pause_ms", "CHAT_EXPORT_PAGE_PAUSE_MS", int, 0,
     "milliseconds an export waits between pages (leaves the database to the chat during a big export)"),
    ("export_max_running", "CHAT_EXPORT_MAX_RUNNING", int, 2,
     "exports this server writes at once (further jobs wait queued)"),

    # --- oversight: quiet hours (add below)
    ("policy_time_zone", "CHAT_POLICY_TIME_ZONE", str, "UTC",
     "default school policy: the school's IANA time zone, in which its quiet hours and holidays are read"),

    # --- notifications: missed-message email (add below)
    ("smtp_host", "CHAT_SMTP_HOST", str, "", "SMTP server for missed-message email; empty: no email is sent"),
    ("smtp_port", "CHAT_SMTP_PORT", int, 587, "port of smtp_host (587 with starttls, 465 with tls)"),
    ("smtp_security", "CHAT_SMTP_SECURITY", str, "starttls",
     "starttls (upgrade a plain connection), tls (TLS from the start) or none (a relay on loopback only)"),
    ("smtp_user", "CHAT_SMTP_USER", str, "", "SMTP login user (empty: no login)"),
    ("smtp_password_file", "CHAT_SMTP_PASSWORD_FILE", str, "",
     "file holding the SMTP password (its first line; needs smtp_user)"),
    ("smtp_timeout", "CHAT_SMTP_TIMEOUT", float, 30.0, "seconds one SMTP connection may take"),
    ("email_from", "CHAT_EMAIL_FROM", str, "", "From address of missed-message email (needed with smtp_host)"),
    ("email_base_url", "CHAT_EMAIL_BASE_URL", str, "",
     "the web client's public URL, for the links in email (e.g. https://chat.school.example; needed with smtp_host)"),
    ("email_after", "CHAT_EMAIL_AFTER", float, 15.0,
     "minutes a direct message, mention or announcement stays unread, with no socket open, before it is emailed"),
    ("email_digest", "CHAT_EMAIL_DIGEST", float, 180.0,
     "minutes after an email before the next one to a user who has not read since"),
    ("email_scan_interval", "CHAT_EMAIL_SCAN_INTERVAL", float, 60.0,
     "seconds between looks for due missed-message email (one node of a cluster looks)"),
    ("email_queue", "CHAT_EMAIL_QUEUE", int, 1000, "emails waiting to be sent at most; a look stops when it is full"),
    ("email_retries", "CHAT_EMAIL_RETRIES", int, 5, "attempts to send one email before it is given up (counted)"),
    ("email_retry_seconds", "CHAT_EMAIL_RETRY_SECONDS", float, 30.0,
     "seconds before the first retry of a failed email (doubling each time)"),

    # --- notifications: webhooks (add below)
    ("webhook_timeout", "CHAT_WEBHOOK_TIMEOUT", float, 10.0,
     "seconds one webhook POST may take (connect and answer) before it counts as failed"),
    ("webhook_max_attempts", "CHAT_WEBHOOK_MAX_ATTEMPTS", int, 8,
     "attempts of one webhook delivery before it goes to the dead letters"),
    ("webhook_backoff", "CHAT_WEBHOOK_BACKOFF", float, 2.0,
     "seconds before a failed webhook delivery's first retry (doubling each time, with jitter)"),
    ("webhook_backoff_max", "CHAT_WEBHOOK_BACKOFF_MAX", float, 600.0, "longest wait between two webhook attempts"),
    ("webhook_max_pending", "CHAT_WEBHOOK_MAX_PENDING", int, 10000,
     "deliveries one webhook may have waiting; past it new events go straight to its dead letters"),
    ("webhook_poll_interval", "CHAT_WEBHOOK_POLL_INTERVAL", float, 2.0,
     "seconds between a node's looks at the outbox for retries due and deliveries another node left"),
    ("webhook_lease", "CHAT_WEBHOOK_LEASE", float, 60.0,
     "seconds a node holds a claimed webhook delivery (at least twice webhook_timeout); a killed node's are taken over after it"),
    ("webhook_allow_text", "CHAT_WEBHOOK_ALLOW_TEXT", _bool, False,
     "whether a school admin may set includeText on a webhook (message text in message.created); off: never"),
    ("webhook_allow_private", "CHAT_WEBHOOK_ALLOW_PRIVATE", _bool, False,
     "allow webhook URLs on loopback and private addresses (tests, an LMS on the same network)"),

    # --- notifications: bots (add below)
    ("bot_max_per_school", "CHAT_BOT_MAX_PER_SCHOOL", int, 50, "most bot accounts (not revoked) one school may have"),

    # --- notifications: scheduled messages (add below)
    ("scheduled_max_pending", "CHAT_SCHEDULED_MAX_PENDING", int, 50,
     "scheduled messages one user may have waiting at a time (0: scheduling is off)"),
    ("scheduled_max_days", "CHAT_SCHEDULED_MAX_DAYS", int, 30, "how far ahead a message may be scheduled (days)"),
    ("scheduled_interval", "CHAT_SCHEDULED_INTERVAL", float, 5.0,
     "seconds between looks for scheduled messages that are due (0: this node never sends them)"),
    ("scheduled_claim_seconds", "CHAT_SCHEDULED_CLAIM_SECONDS", float, 60.0,
     "seconds after which a scheduled send a node claimed but never finished (it stopped) is taken over by another"),
    ("scheduled_max_attempts", "CHAT_SCHEDULED_MAX_ATTEMPTS", int, 3,
     "tries of a scheduled send that storage keeps failing before it is recorded as failed"),

    # --- notifications: forwarding (add below)

]

# Settings never printed or logged as they are (see mask()): these, and any name ending in
# SECRET_SUFFIXES. Any string setting that is a URI loses its user:password and password-like
# query parameters (mongodb_uri, redis_url, ...).
SECRETS = ("jwt_secret", "upload_url_secret")
SECRET_SUFFIXES = ("_secret", "_password", "_passphrase", "_token")
_QUERY_SECRET = re.compile(r"(?i)([?&;](?:[a-z_]*password|passwd|pass|secret|token|[a-z_]*_key)=)[^&;#]*")


def is_secret(name: str) -> bool:
    """True for a setting whose value is a secret as a whole."""
    return name in SECRETS or name.endswith(SECRET_SUFFIXES)


def mask_uri(value: str) -> str:
    """A URI fit to print: its user:password (``scheme://***@host``) and password-like query
    parameters (``?password=***``) hidden; any other string unchanged."""
    if "://" not in value:
        return value
    scheme, rest = value.split("://", 1)
    head, sep, query = rest.partition("?")
    if "@" in head:  # the last @ before the query: a password may hold an unescaped @
        head = "***@" + head.rsplit("@", 1)[1]
    return _QUERY_SECRET.sub(r"\1***", scheme + "://" + head + sep + query)


def mask(name: str, value: Any) -> Any:
    """A setting's value fit to print or log: secrets hidden, credentials cut out of URIs."""
    if is_secret(name):
        return "***" if value else ""
    if isinstance(value, str):
        return mask_uri(value)
    return value


class Range(NamedTuple):
    """The values a numeric setting may take: ``lo <= x <= hi`` (``lo < x`` when ``above``)."""

    lo: float
    hi: float
    above: bool = False

    def text(self) -> str:
        """The range as documented: ``1..65535``, or ``above 0, up to 86400``."""
        if self.above:
            return "above %s, up to %s" % (_num(self.lo), _num(self.hi))
        return "%s..%s" % (_num(self.lo), _num(self.hi))

    def holds(self, value: float) -> bool:
        return (self.lo < value if self.above else self.lo <= value) and value <= self.hi


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


_DAY = 86400
_GIB = 1 << 30
_TIB = 1 << 40
_MANY = 10 ** 9  # "as many as you like": a count beyond any school's needs, still a number
# Every int and float setting has a range here (a test checks it). NaN and infinity are always
# refused. The README "Configuration" ranges table is generated from it (deploy/gen_config_example.py).
RANGES: Dict[str, Range] = {
    "port": Range(0, 65535),
    "db_workers": Range(1, 256),
    "db_timeout_ms": Range(1, 3_600_000),
    "jwt_leeway": Range(0, _DAY),
    "max_body_bytes": Range(1, _GIB),
    "http_max_header_bytes": Range(1024, 1 << 24),
    "http_discard_bytes": Range(0, _TIB),
    "http_header_timeout": Range(0, _DAY, above=True),
    "http_body_timeout": Range(0, _DAY, above=True),
    "max_title": Range(1, 100_000),
    "max_participants": Range(2, 1_000_000),
    "max_text": Range(1, 10_000_000),
    "max_attachments": Range(0, 1000),
    "max_reaction_emojis": Range(1, 1000),
    "max_upload_bytes": Range(1, _TIB),
    "upload_quota_bytes": Range(0, 1 << 50),
    "upload_orphan_hours": Range(0, 24 * 36500, above=True),
    "upload_retention_days": Range(0, 36500),
    "upload_url_ttl": Range(1, 7 * _DAY),
    "upload_thumbnail_px": Range(16, 8192),
    "upload_max_pixels": Range(1, 10 ** 10),
    "upload_max_total_pixels": Range(1, _MANY),
    "upload_image_seconds": Range(0, 3600, above=True),
    "upload_image_workers": Range(1, 64),
    "upload_max_name": Range(16, 1000),
    "upload_sweep_interval": Range(0, 7 * _DAY),
    "ws_ping_interval": Range(0, _DAY),
    "ws_ping_timeout": Range(0, _DAY, above=True),
    "ws_max_message_size": Range(1024, _GIB),
    "ws_max_frame_bytes": Range(1, _GIB),
    "ws_max_pending_bytes": Range(1024, 1 << 40),
    "rate_messages": Range(0, _MANY, above=True),
    "rate_messages_burst": Range(1, _MANY),
    "rate_frames": Range(0, _MANY, above=True),
    "rate_frames_burst": Range(1, _MANY),
    "rate_typing": Range(0, _MANY, above=True),
    "rate_typing_burst": Range(1, _MANY),
    "max_sockets_per_user": Range(1, 100_000),
    "listen_backlog": Range(1, 1 << 20),
    "max_opening_sockets": Range(1, _MANY),
    "shed_retry_after": Range(0, 3600),
    "rate_strikes": Range(1, _MANY),
    "rate_frame_bytes": Range(1, 16 * 1024 * 1024),
    "typing_timeout": Range(0, 3600, above=True),
    "typing_debounce": Range(0, 3600),
    "sync_cache_bytes": Range(0, _TIB),
    "sync_limit": Range(1, _MANY),
    "sync_max_messages": Range(1, _MANY),
    "sync_max_bytes": Range(1024, _TIB),
    "sync_changed_limit": Range(1, _MANY),
    "unread_chunk": Range(1, _MANY),
    "unread_concurrency": Range(1, 64),
    "search_per_user": Range(1, 10_000),
    "search_concurrency": Range(1, 10_000),
    "search_chunk": Range(1, _MANY),
    "search_index_interval": Range(0, 3600, above=True),
    "search_index_batch": Range(1, 10_000),
    "write_linger": Range(0, 1),
    "conversation_flush": Range(0, 3600, above=True),
    "roster_refresh": Range(0, _DAY, above=True),
    "last_seen_flush": Range(0, 3600, above=True),
    "cluster_gap_timeout": Range(0, 60, above=True),
    "cluster_node_ttl": Range(0, 3600, above=True),
    "metrics_port": Range(-1, 65535),
    "embedded_log_max_bytes": Range(0, _TIB),
    "embedded_log_backups": Range(0, 1000),
    # --- safeguarding: school policy (add below)
    "policy_refresh": Range(0, _DAY, above=True),

    # --- safeguarding: reports and moderation (add below)
    "rate_reports": Range(0, _MANY, above=True),
    "rate_reports_burst": Range(1, _MANY),

    # --- safeguarding: blocks, mutes, slow mode (add below)
    "block_cache_ttl": Range(0, 3600),

    # --- safeguarding: word filters (add below)
    "filter_max_lists": Range(1, 1000),
    "filter_max_terms": Range(1, 1_000_000),
    "filter_max_term_chars": Range(1, 1000),
    "filter_cache_seconds": Range(0, 3600),
    "filter_repeat_blocks": Range(0, 1000),
    "filter_repeat_minutes": Range(0, 10_080, above=True),

    # --- oversight: audit log (add below)

    # --- oversight: access grants (add below)
    "oversight_minutes": Range(0, 10_080, above=True),

    # --- oversight: retention and holds (add below)
    "retention_message_days": Range(0, 36500),
    "retention_case_days": Range(0, 36500),
    "retention_sweep_interval": Range(0, 7 * _DAY),
    "retention_batch": Range(1, 1000),
    "retention_tick_batches": Range(1, 100_000),

    # --- oversight: export and erasure (add below)
    "export_batch": Range(1, 10_000),
    "export_link_ttl": Range(1, 7 * _DAY),
    "export_keep_hours": Range(1, 24 * 365),
    "export_sweep_interval": Range(0, _DAY),
    "export_stale_seconds": Range(60, 7 * _DAY),
    "export_page_pause_ms": Range(0, 600_000),
    "export_max_running": Range(1, 64),

    # --- oversight: quiet hours (add below)

    # --- notifications: missed-message email (add below)
    "smtp_port": Range(1, 65535),
    "smtp_timeout": Range(0, 3600, above=True),
    "email_after": Range(0, 10_080, above=True),
    "email_digest": Range(0, 40_320),
    "email_scan_interval": Range(0, _DAY, above=True),
    "email_queue": Range(1, 1_000_000),
    "email_retries": Range(1, 100),
    "email_retry_seconds": Range(0, _DAY, above=True),

    # --- notifications: webhooks (add below)
    "webhook_timeout": Range(0, 600, above=True),
    "webhook_max_attempts": Range(1, 100),
    "webhook_backoff": Range(0, 86400, above=True),
    "webhook_backoff_max": Range(0, 7 * _DAY, above=True),
    "webhook_max_pending": Range(1, 10_000_000),
    "webhook_poll_interval": Range(0, 3600, above=True),
    "webhook_lease": Range(1, 86400),

    # --- notifications: bots (add below)
    "bot_max_per_school": Range(1, 10_000),

    # --- notifications: scheduled messages (add below)
    "scheduled_max_pending": Range(0, 10_000),
    "scheduled_max_days": Range(1, 366),
    "scheduled_interval": Range(0, _DAY),
    "scheduled_claim_seconds": Range(1, _DAY),
    "scheduled_max_attempts": Range(1, 100),

    # --- notifications: forwarding (add below)

}

#: the settings that take one of a few words
CHOICES: Dict[str, Tuple[str, ...]] = {
    "upload_backend": ("fs", "gridfs"),
    "log_level": ("debug", "info", "warning", "error", "critical"),
    "log_format": ("text", "json"),
    "event_loop": ("asyncio", "uvloop"),
    "policy_student_direct": ("any", "classmates", "staff_only", "none"),
    "policy_student_groups": ("allowed", "supervised", "staff_only"),
    "smtp_security": ("starttls", "tls", "none"),  # notifications: missed-message email
}


def _either(words: Tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else "%s or %s" % (", ".join(words[:-1]), words[-1])


def range_problems(settings: "Settings") -> List[str]:
    """Numeric settings outside their :data:`RANGES` (NaN and infinity never pass), words outside
    :data:`CHOICES`, and limits that contradict each other; each names its setting."""
    problems: List[str] = []
    for name, limits in RANGES.items():
        value = getattr(settings, name, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append("%s must be a number, not %r" % (name, value))
        elif not math.isfinite(value):
            problems.append("%s must be a finite number, not %r" % (name, value))
        elif not limits.holds(value):
            problems.append("%s must be %s, not %s" % (name, limits.text(), _num(value)))
    for name, words in CHOICES.items():
        value = getattr(settings, name, None)
        if value is not None and (value.lower() if name == "log_level" else value) not in words:
            problems.append("%s must be %s, not %r" % (name, _either(words), value))
    problems += _zone_problems(settings)  # oversight: quiet hours
    problems += _email_problems(settings)  # notifications: missed-message email
    if settings.ws_max_frame_bytes > settings.ws_max_message_size:
        problems.append("ws_max_frame_bytes (%d) cannot be above ws_max_message_size (%d)"
                        % (settings.ws_max_frame_bytes, settings.ws_max_message_size))
    if settings.sync_max_bytes >= settings.ws_max_pending_bytes:
        problems.append("sync_max_bytes (%d) must be below ws_max_pending_bytes (%d): a sync reply would close "
                        "the socket as a slow consumer" % (settings.sync_max_bytes, settings.ws_max_pending_bytes))
    return problems


def _zone_problems(settings: "Settings") -> List[str]:
    """The default school time zone must be one this machine knows (oversight: quiet hours)."""
    try:
        parse_zone(settings.policy_time_zone)
    except BadRequest as exc:
        return ["policy_time_zone: %s" % exc.message]
    return []


def _email_problems(settings: "Settings") -> List[str]:
    """With ``smtp_host`` set, what missed-message email needs (notifications: missed-message email)."""
    from chat.rules.email_digest import valid_address  # pure; imported here, where it is needed

    problems: List[str] = []
    if settings.smtp_password_file and not settings.smtp_user:
        problems.append("smtp_password_file needs smtp_user")
    if settings.smtp_password_file and not os.access(settings.smtp_password_file, os.R_OK):
        problems.append("smtp_password_file: cannot read %s" % settings.smtp_password_file)
    if not settings.smtp_host:
        return problems
    if not valid_address(settings.email_from):
        problems.append("email_from must be an email address when smtp_host is set, not %r" % settings.email_from)
    if not re.match(r"^https?://[^\s/?#]+", settings.email_base_url):
        problems.append("email_base_url must be the client's http(s) URL when smtp_host is set, not %r"
                        % settings.email_base_url)
    return problems


@dataclasses.dataclass(repr=False)
class Settings:
    """All tunables; build with :func:`load` (env + CLI) or directly in tests."""

    host: str = "127.0.0.1"
    port: int = 8888
    data_dir: str = "./data"
    mongodb_uri: str = ""
    db_name: str = "chat"
    db_workers: int = 8
    db_timeout_ms: int = 2000
    jwt_secret: str = ""
    jwt_public_key_file: str = ""
    jwt_private_key_file: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway: int = 30
    max_body_bytes: int = 65536
    http_max_header_bytes: int = 32768
    http_discard_bytes: int = 8388608
    http_header_timeout: float = 30.0
    http_body_timeout: float = 60.0
    max_title: int = 200
    max_participants: int = 500
    max_text: int = 4000
    max_attachments: int = 10
    max_reaction_emojis: int = 20
    max_upload_bytes: int = 52428800
    upload_types: List[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_UPLOAD_TYPES))
    upload_quota_bytes: int = 524288000
    upload_backend: str = "fs"
    upload_orphan_hours: float = 24.0
    upload_retention_days: float = 365.0
    upload_url_ttl: int = 600
    upload_url_secret: str = ""
    upload_thumbnail_px: int = 320
    upload_max_pixels: int = 50000000
    upload_max_total_pixels: int = 50000000
    upload_image_seconds: float = 20.0
    upload_image_workers: int = 2
    upload_max_name: int = 200
    upload_sweep_interval: float = 600.0
    ws_ping_interval: float = 25.0
    ws_ping_timeout: float = 20.0
    ws_max_message_size: int = 262144
    ws_max_frame_bytes: int = 65536
    ws_max_pending_bytes: int = 4194304
    allowed_origins: List[str] = dataclasses.field(default_factory=list)
    rate_messages: float = 20.0
    rate_messages_burst: float = 60.0
    rate_frames: float = 60.0
    rate_frames_burst: float = 200.0
    rate_frame_bytes: int = 16384
    rate_typing: float = 2.0
    rate_typing_burst: float = 10.0
    max_sockets_per_user: int = 10
    listen_backlog: int = 4096
    max_opening_sockets: int = 200
    shed_retry_after: float = 1.0
    rate_strikes: int = 20
    typing_timeout: float = 5.0
    typing_debounce: float = 2.0
    sync_cache_bytes: int = 8388608
    sync_limit: int = 500
    sync_max_messages: int = 2000
    sync_max_bytes: int = 1048576
    sync_changed_limit: int = 1000
    unread_chunk: int = 100
    unread_concurrency: int = 1
    search_per_user: int = 2
    search_concurrency: int = 8
    search_chunk: int = 5000
    search_index: bool = True
    search_index_path: str = ""
    search_index_interval: float = 2.0
    search_index_batch: int = 500
    write_linger: float = 0.004
    conversation_flush: float = 1.0
    roster_refresh: float = 10.0
    last_seen_flush: float = 2.0
    redis_url: str = ""
    cluster_gap_timeout: float = 0.5
    cluster_node_ttl: float = 15.0
    demo: bool = False
    log_level: str = "info"
    log_format: str = "text"
    event_loop: str = "uvloop"
    tls_cert: str = ""
    tls_key: str = ""
    trusted_proxies: List[str] = dataclasses.field(default_factory=list)
    metrics_port: int = 0
    metrics_allow: List[str] = dataclasses.field(default_factory=list)
    embedded_log_max_bytes: int = 10485760
    embedded_log_backups: int = 3
    # --- safeguarding: school policy (add below)
    policy_student_direct: str = "any"
    policy_student_groups: str = "allowed"
    policy_students_may_message_admins: bool = True
    policy_refresh: float = 5.0

    # --- safeguarding: reports and moderation (add below)
    rate_reports: float = 0.1
    rate_reports_burst: float = 10.0

    # --- safeguarding: blocks, mutes, slow mode (add below)
    block_cache_ttl: float = 5.0

    # --- safeguarding: word filters (add below)
    filter_max_lists: int = 20
    filter_max_terms: int = 10000
    filter_max_term_chars: int = 64
    filter_cache_seconds: float = 5.0
    filter_repeat_blocks: int = 3
    filter_repeat_minutes: float = 10.0

    # --- oversight: audit log (add below)

    # --- oversight: access grants (add below)
    oversight_minutes: float = 60.0

    # --- oversight: retention and holds (add below)
    retention_message_days: int = 0
    retention_case_days: int = 90
    retention_sweep_interval: float = 300.0
    retention_batch: int = 50
    retention_tick_batches: int = 200

    # --- oversight: export and erasure (add below)
    export_batch: int = 500
    export_link_ttl: int = 600
    export_keep_hours: int = 24
    export_sweep_interval: int = 300
    export_stale_seconds: int = 900
    export_page_pause_ms: int = 0
    export_max_running: int = 2

    # --- oversight: quiet hours (add below)
    policy_time_zone: str = "UTC"

    # --- notifications: missed-message email (add below)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password_file: str = ""
    smtp_timeout: float = 30.0
    email_from: str = ""
    email_base_url: str = ""
    email_after: float = 15.0
    email_digest: float = 180.0
    email_scan_interval: float = 60.0
    email_queue: int = 1000
    email_retries: int = 5
    email_retry_seconds: float = 30.0

    # --- notifications: webhooks (add below)
    webhook_timeout: float = 10.0
    webhook_max_attempts: int = 8
    webhook_backoff: float = 2.0
    webhook_backoff_max: float = 600.0
    webhook_max_pending: int = 10000
    webhook_poll_interval: float = 2.0
    webhook_lease: float = 60.0
    webhook_allow_text: bool = False
    webhook_allow_private: bool = False

    # --- notifications: bots (add below)
    bot_max_per_school: int = 50

    # --- notifications: scheduled messages (add below)
    scheduled_max_pending: int = 50
    scheduled_max_days: int = 30
    scheduled_interval: float = 5.0
    scheduled_claim_seconds: float = 60.0
    scheduled_max_attempts: int = 3

    # --- notifications: forwarding (add below)


    def __repr__(self) -> str:  # secrets masked: a logged or printed Settings must not leak them
        return "Settings(%s)" % ", ".join("%s=%r" % (f.name, mask(f.name, getattr(self, f.name)))
                                          for f in dataclasses.fields(self))

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def add_arguments(parser: argparse.ArgumentParser, names: Optional[List[str]] = None) -> None:
    """Add ``--flag`` options for the named settings (all when ``names`` is None)."""
    for name, env, conv, default, help_text in OPTIONS:
        if names is not None and name not in names:
            continue
        flag = "--" + name.replace("_", "-")
        if conv is _bool:
            parser.add_argument(flag, dest=name, action="store_const", const=True, default=None,
                                help=f"{help_text} (env {env})")
        else:
            parser.add_argument(flag, dest=name, type=conv, default=None,
                                help=f"{help_text} (env {env}, default {default!r})")


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names the setting and where it came from."""


def load(args: Optional[argparse.Namespace] = None, environ: Optional[Mapping[str, str]] = None,
         file_values: Optional[Mapping[str, Any]] = None) -> Settings:
    """Settings from defaults, overridden by the config file's values (already converted, see
    ``chat.ops.config_file``), by env vars, then by parsed CLI flags. Raises :class:`SettingsError`."""
    env = os.environ if environ is None else environ
    values: Dict[str, Any] = dict(file_values or {})
    for name, env_name, conv, _default, _help in OPTIONS:
        if env.get(env_name, "") != "":
            try:
                values[name] = conv(env[env_name])
            except ValueError as exc:
                raise SettingsError("%s=%r: %s" % (env_name, env[env_name], exc)) from None
        flag_value = getattr(args, name, None) if args is not None else None
        if flag_value is not None:
            values[name] = flag_value
    return Settings(**values)


def sources(args: Optional[argparse.Namespace] = None, environ: Optional[Mapping[str, str]] = None,
            file_values: Optional[Mapping[str, Any]] = None) -> Dict[str, str]:
    """Where each setting's effective value comes from: flag, env, file or default."""
    env = os.environ if environ is None else environ
    where: Dict[str, str] = {}
    for name, env_name, _conv, _default, _help in OPTIONS:
        if args is not None and getattr(args, name, None) is not None:
            where[name] = "flag"
        elif env.get(env_name, "") != "":
            where[name] = "env " + env_name
        elif file_values is not None and name in file_values:
            where[name] = "file"
        else:
            where[name] = "default"
    return where
