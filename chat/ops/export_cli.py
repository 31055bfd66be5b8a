"""``server.py export-user`` (README "Export and erasure"): one person's export written by an
operator, without the API: the same archive as ``POST /api/exports``
(:class:`chat.domain.oversight.export_zip.ExportWriter`), into ``FILE.part`` renamed to
``FILE`` once complete, memory bounded the same way. Recorded in the school's audit log as
``export.create`` by ``cli``. Storage as ``import-roster`` and ``audit`` find it; the upload
bytes from the configured backend. Exit 0, 1 (unknown user of that school, or the file cannot
be written), 2 (usage), 3 (storage does not answer).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, Dict, List

from chat import settings as settings_mod
from chat.clock import SystemClock
from chat.domain.oversight.audit import AuditAction, AuditLog
from chat.domain.oversight.export_zip import ExportWriter
from chat.errors import Unavailable
from chat.ops.audit_cli import _storage
from chat.ops.config_file import CONFIG_ENV, config_path, read_config
from chat.ops.embedded import EmbeddedError
from chat.settings import Settings, SettingsError
from chat.store import Store
from chat.uploads import build_uploads

EXIT_BAD = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="school-chat export-user", description=(
        "Write one user's data (profile, conversations, messages with edits, reactions, receipts, "
        "reports, uploaded files) into a zip."))
    parser.add_argument("--school", required=True, help="the user's school")
    parser.add_argument("--user", required=True, help="the user's id")
    parser.add_argument("--output", required=True, help="the zip to write")
    parser.add_argument("--config", metavar="FILE", default=None, help="TOML config file (env %s)" % CONFIG_ENV)
    settings_mod.add_arguments(parser, ["data_dir", "mongodb_uri", "db_name", "db_timeout_ms", "upload_backend",
                                        "export_batch"])
    return parser


def _fail(message: str, code: int) -> int:
    print("error: %s" % message, file=sys.stderr)
    return code


def export_user_command(argv: List[str]) -> int:
    """``export-user --school S --user U --output FILE``: the exit code."""
    args = _parser().parse_args(argv)
    try:
        path = config_path(args.config, os.environ)
        settings = settings_mod.load(args, file_values=read_config(path) if path else None)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        with _storage(settings) as store:
            return asyncio.run(_export(settings, store, args.school, args.user, args.output))
    except EmbeddedError as exc:
        return _fail(str(exc), EXIT_STORAGE)
    except Unavailable:
        return _fail("storage does not answer", EXIT_STORAGE)


async def _export(settings: Settings, store: Store, school: str, user_id: str, output: str) -> int:
    user = await store.directory.get_user(user_id)
    if user is None or user.get("school") != school:
        return _fail("no user %s in school %s" % (user_id, school), EXIT_BAD)
    clock = SystemClock()
    await AuditLog(store.audit, clock).record("cli", AuditAction.EXPORT, school, {"userId": user_id},
                                              {"output": os.path.basename(output)})
    uploads = build_uploads(settings, store)
    try:
        writer = ExportWriter(store, uploads.storage, settings.export_batch)
        counts: Dict[str, Any] = await writer.write(user, os.path.abspath(output), int(clock.time() * 1000))
    except OSError as exc:
        return _fail("%s: %s" % (output, exc.strerror or exc), EXIT_BAD)
    finally:
        uploads.images.close()
    print("wrote %s: %d messages, %d files, %d bytes" % (output, counts["messages"], counts["files"],
                                                         os.path.getsize(output)))
    return 0
