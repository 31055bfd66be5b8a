#!/usr/bin/env python3
"""School chat server.

    school-chat [serve] [--config FILE] [--host H] [--port P] [--data-dir D] [--demo] ...
    school-chat token --user u1 --role student --school s1 [--name Alice] [--ttl 3600]
    school-chat import-roster FILE
    school-chat check-config [--config FILE]
    school-chat backup OUT.tar.gz
    school-chat restore IN.tar.gz
    school-chat audit verify [--school S] | audit export --school S --format csv|jsonl [--output FILE]
    school-chat export-user --school S --user U --output FILE.zip
    school-chat --version

(`python server.py ...` is the same program from a source checkout.) Every option is also an
environment variable and a key of the TOML config file; flags win over the environment, which
wins over the file (see README "Configuration").
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import logging
import os
import socket
import sys
from typing import Any, Callable, Dict, List, Optional

from chat import settings as settings_mod
from chat.auth import mint_token
from chat.errors import Unavailable
from chat.ops.config_file import CONFIG_ENV, config_path, mask, read_config, ssl_context, validate, warnings
from chat.ops.embedded import CHILD_COMMAND, DataDirInUse, EmbeddedError, EmbeddedMongo, follow_launcher, read_state
from chat.ops.logfmt import setup_logging
from chat.ops.roster import RosterError, import_roster, parse_roster
from chat.runtime import Runtime, build_runtime
from chat.settings import Settings, SettingsError
from chat.store import Store
from chat.uploads.lifecycle import Sweeper
from chat.version import __version__
from chat.vocab import ROLES

log = logging.getLogger("chat.server")

# Exit codes (documented in the README, "Operations"): systemd's Restart=on-failure retries all
# but 2, which needs a person (see RestartPreventExitStatus in deploy/school-chat.service).
EXIT_FAILURE = 1  # unexpected error (a traceback is logged)
EXIT_CONFIG = 2  # bad command line, settings or config file
EXIT_STORAGE = 3  # the database cannot be started or reached, or the data dir is in use
EXIT_LISTEN = 4  # the address/port cannot be bound (in use, or no permission)
EXIT_SCHEMA = 5  # the stored data comes from a newer release


def _logging(level: str, fmt: str = "text") -> None:
    setup_logging(level, fmt)


def _bind(settings: Settings) -> List[socket.socket]:
    """Listening sockets, bound before anything touches the data dir; raises OSError."""
    import tornado.netutil

    return tornado.netutil.bind_sockets(settings.port, settings.host, backlog=settings.listen_backlog)


def _bind_metrics(settings: Settings) -> List[socket.socket]:
    """The loopback-only metrics port's sockets (none unless metrics_port > 0); raises OSError."""
    import tornado.netutil

    return tornado.netutil.bind_sockets(settings.metrics_port, "127.0.0.1") if settings.metrics_port > 0 else []


def _serve_metrics(runtime: Runtime, sockets: List[socket.socket]) -> None:
    import tornado.web

    from handlers.metrics import MetricsHandler

    app = tornado.web.Application([(r"/metrics", MetricsHandler, {"runtime": runtime, "dedicated": True})])
    tornado.httpserver.HTTPServer(app).add_sockets(sockets)


def _behind_proxies(app: Any, settings: Settings) -> Any:
    """The app, behind the trusted_proxies rules when there are any (see handlers/proxy.py)."""
    if not settings.trusted_proxies:
        return app
    from chat.ops.proxies import ProxyRules
    from handlers.proxy import TrustedProxies

    return TrustedProxies(app, ProxyRules(settings.trusted_proxies))


async def _run(runtime: Runtime, sockets: Optional[List[socket.socket]] = None,
               metrics_sockets: Optional[List[socket.socket]] = None) -> int:
    import tornado.ioloop

    from chat.ops.migrations import SchemaTooNew, migrate_store
    from handlers.http_server import build_http_server, install_stop_signals
    from handlers.lifecycle import graceful_shutdown
    from handlers.routes import make_app

    settings = runtime.settings
    try:
        found, now = await migrate_store(runtime.store)  # chat/ops/migrations.py: older data brought forward
        if found != now:
            log.info("stored data: schema version %s -> %d", "new" if found is None else found, now)
        await runtime.store.ensure_indexes()
    except SchemaTooNew as exc:
        log.error("%s", exc)
        return EXIT_SCHEMA
    except Unavailable:
        log.error("storage at %s does not answer", runtime.storage_label)
        return EXIT_STORAGE
    await runtime.start()
    if settings.demo:
        from chat.ops.demo import seed_demo
        await seed_demo(runtime.service)
    app = make_app(runtime)
    sweeper = Sweeper(app.settings["uploads"])  # removes orphaned and expired uploads
    sweeper.start()
    server = build_http_server(_behind_proxies(app, settings), settings,
                               ssl_options=ssl_context(settings) if settings.tls_cert else None)
    server.add_sockets(sockets if sockets is not None else _bind(settings))
    if metrics_sockets:
        _serve_metrics(runtime, metrics_sockets)
    supervisor = None
    if runtime.embedded is not None:
        supervisor = tornado.ioloop.PeriodicCallback(runtime.embedded.check, 500)
        supervisor.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    uninstall_signals = install_stop_signals(loop, stop.set)
    # Latency: full garbage collections scan every live object (thousands per socket set) and
    # stall the loop for tens of ms. Start-up objects are frozen out of them, and collections
    # run less often; the code creates few reference cycles, so memory stays flat (measured).
    gc.freeze()
    gc.set_threshold(50000, 50, 100)
    host = "[%s]" % settings.host if ":" in settings.host else settings.host
    log.info("serving %s://%s:%d/ (storage: %s%s; version %s)", "https" if settings.tls_cert else "http", host,
             settings.port, runtime.storage_label, ", demo mode" if settings.demo else "", __version__)
    await stop.wait()
    await sweeper.stop()  # first: no upload sweep may run into a closing store
    log.info("shutting down: closing sockets, finishing in-flight work")
    await graceful_shutdown(server, app.settings.get("hub"), runtime)
    if supervisor is not None:
        supervisor.stop()
    uninstall_signals()
    return 0


def serve(settings: Settings) -> int:
    """Run the server until SIGINT/SIGTERM; returns the exit code."""
    _logging(settings.log_level, settings.log_format)
    for warning in warnings(settings):
        log.warning("%s", warning)
    try:
        sockets = _bind(settings)
    except OSError as exc:  # a one-line answer, before anything is written to the data dir
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port, exc.strerror or exc)
        return EXIT_LISTEN
    try:
        metrics_sockets = _bind_metrics(settings)
    except OSError as exc:
        log.error("cannot listen on 127.0.0.1:%d (metrics_port): %s", settings.metrics_port, exc.strerror or exc)
        return EXIT_LISTEN
    embedded: Optional[EmbeddedMongo] = None
    uri = settings.mongodb_uri
    if not uri:
        embedded = EmbeddedMongo(settings.data_dir, log_max_bytes=settings.embedded_log_max_bytes,
                                 log_backups=settings.embedded_log_backups)
        atexit.register(embedded.stop)
        try:
            embedded.start()
        except DataDirInUse as exc:
            log.error("%s", exc)
            return EXIT_STORAGE
        except EmbeddedError as exc:
            log.error("could not start the embedded database: %s", exc)
            return EXIT_STORAGE
        uri = embedded.uri
    runtime = build_runtime(settings, uri, embedded)
    try:
        if settings.event_loop == "uvloop":
            import uvloop  # optional: check-config says when it is missing

            return int(uvloop.run(_run(runtime, sockets, metrics_sockets)))
        return asyncio.run(_run(runtime, sockets, metrics_sockets))
    finally:
        runtime.store.close()
        if embedded is not None:
            embedded.stop()
        log.info("stopped")


def _parser(command: str, description: str, names: Optional[List[str]] = None) -> argparse.ArgumentParser:
    """A command's parser: ``--config`` plus the ``--flag`` of the named settings (all: None)."""
    parser = argparse.ArgumentParser(prog="%s %s" % (PROG, command) if command else PROG, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="TOML config file; keys are the setting names below (env %s)" % CONFIG_ENV)
    settings_mod.add_arguments(parser, names)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """Settings of parsed arguments (flags > env > config file > defaults); SettingsError if bad."""
    path = config_path(args.config, os.environ)
    return settings_mod.load(args, file_values=read_config(path) if path else None)


def _fail(message: str, code: int = EXIT_CONFIG) -> int:
    print("error: %s" % message, file=sys.stderr)
    return code


def serve_command(argv: List[str]) -> int:
    """``serve`` (the default command): run the server."""
    parser = _parser("serve" if argv[:1] == ["serve"] else "", __doc__ or "")
    parser.usage = PROG + " [serve] [--config FILE] [options]\n       " + PROG + " {" + ",".join(
        c for c in COMMANDS if c != "serve") + "} ... (COMMAND --help for its options)\n       " + PROG + " --version"
    parser.epilog = "commands: " + ", ".join(COMMANDS) + " (each has --help); --version prints the version"
    args = parser.parse_args(argv[1:] if argv[:1] == ["serve"] else argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        return _fail(str(exc))
    problems = validate(settings)
    if problems:
        return _fail("; ".join(problems))
    return serve(settings)


def check_config_command(argv: List[str]) -> int:
    """``check-config``: validate settings and config file, print the effective configuration."""
    parser = _parser("check-config", "Validate the settings (flags, environment, config file) and print the "
                                     "effective configuration, secrets masked. Exits 2 with the reason when invalid.")
    args = parser.parse_args(argv)
    path = config_path(args.config, os.environ)
    try:
        file_values = read_config(path) if path else None
        settings = settings_mod.load(args, file_values=file_values)
    except SettingsError as exc:
        return _fail(str(exc))
    problems = validate(settings)
    if problems:
        for problem in problems:
            print("error: %s" % problem, file=sys.stderr)
        return EXIT_CONFIG
    for warning in warnings(settings):
        print("warning: %s" % warning, file=sys.stderr)
    where = settings_mod.sources(args, os.environ, file_values)
    print("# school-chat %s; config file: %s" % (__version__, path or "(none)"))
    for name, *_rest in settings_mod.OPTIONS:
        value = mask(name, getattr(settings, name))
        print("%-24s = %-40s # %s" % (name, _toml(value), where[name]))
    print("configuration OK")
    return 0


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, str)):
        return json.dumps(value)
    return repr(value)


def token_command(argv: List[str]) -> int:
    """``token``: print a token the server accepts (the LMS normally issues them)."""
    parser = _parser("token", "Print a token the server accepts.",
                     ["data_dir", "jwt_secret", "jwt_public_key_file", "jwt_private_key_file", "jwt_issuer",
                      "jwt_audience"])
    parser.add_argument("--user", required=True)
    parser.add_argument("--role", required=True, choices=list(ROLES))
    parser.add_argument("--school", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
        print(mint_token(settings, args.user, args.role, args.school, args.name, args.ttl))
    except ValueError as exc:  # SettingsError included
        return _fail(str(exc))
    return 0


def import_roster_command(argv: List[str]) -> int:
    """``import-roster FILE``: load users and classes into the running (or a stopped) server's database."""
    parser = _parser("import-roster", "Load users and classes (JSON or CSV) into the directory.",
                     ["data_dir", "mongodb_uri", "db_name", "log_level"])
    parser.add_argument("file")
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        return _fail(str(exc))
    _logging("warning" if settings.log_level == "info" else settings.log_level)
    try:
        with open(args.file, "r", encoding="utf-8-sig") as fh:
            users, classes = parse_roster(fh.read(), args.file)
    except (OSError, RosterError) as exc:
        return _fail(str(exc))
    embedded = None
    uri = settings.mongodb_uri
    if not uri:
        state = read_state(settings.data_dir)
        if state is not None:
            uri = state["uri"]  # the running server's database: never open its SQLite file twice
        else:
            embedded = EmbeddedMongo(settings.data_dir)
            try:
                embedded.start()
            except EmbeddedError as exc:
                return _fail(str(exc), EXIT_STORAGE)
            uri = embedded.uri
    store = Store(uri, settings.db_name, 2, settings.db_timeout_ms)

    async def work() -> dict:
        await store.ensure_indexes()
        return await import_roster(store, users, classes)
    try:
        summary = asyncio.run(work())
    except Unavailable:
        return _fail("storage does not answer", EXIT_STORAGE)
    finally:
        store.close()
        if embedded is not None:
            embedded.stop()
    print("imported %(users)d users (%(newUsers)d new), %(classes)d classes (%(newClasses)d new)" % summary)
    return 0


def backup_command(argv: List[str]) -> int:
    """``backup OUT``: a consistent snapshot of the embedded database and the JWT secret, online."""
    parser = _parser("backup", "Write a backup (tar.gz: database snapshot + JWT secret) of the data dir; safe while "
                               "the server runs and writes. For an external MongoDB use mongodump.",
                     ["data_dir", "mongodb_uri"])
    parser.add_argument("out", help="archive to write, e.g. /var/backups/school-chat-$(date +%%F).tar.gz")
    args = parser.parse_args(argv)
    from chat.ops.backup import BackupError, backup

    try:
        settings = _settings(args)
    except SettingsError as exc:
        return _fail(str(exc))
    if settings.mongodb_uri:
        return _fail("the data lives in an external MongoDB: back it up with mongodump (see README, Operations)")
    try:
        manifest = backup(settings.data_dir, args.out)
    except (BackupError, OSError) as exc:
        return _fail(str(exc), EXIT_FAILURE)
    print("wrote %s (%s, %d bytes of database)" % (args.out, manifest["createdAt"],
                                                  manifest["files"]["chat.db"]["bytes"]))
    return 0


def restore_command(argv: List[str]) -> int:
    """``restore IN``: put a backup into the data dir; refuses while a server uses it."""
    parser = _parser("restore", "Restore a backup made by `backup` into the data dir (stop the server first).",
                     ["data_dir"])
    parser.add_argument("archive")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing database (kept as chat.db.before-restore-<time>)")
    args = parser.parse_args(argv)
    from chat.ops.backup import BackupError, restore

    try:
        settings = _settings(args)
        manifest = restore(args.archive, settings.data_dir, force=args.force)
    except SettingsError as exc:
        return _fail(str(exc))
    except (BackupError, OSError) as exc:
        return _fail(str(exc), EXIT_FAILURE)
    print("restored the backup of %s (version %s) into %s" % (manifest["createdAt"], manifest["version"],
                                                            os.path.abspath(settings.data_dir)))
    return 0


def _embedded_child(argv: List[str]) -> int:
    """The hidden command the one-file executable runs as its database child (see chat/ops/embedded.py)."""
    from chat.ops.embedded_db import main as db_main

    return db_main(argv)


PROG = "school-chat"
def db_command(argv: List[str]) -> int:
    """The embedded database alone on a port, for several servers (see README \"Scaling out\")."""
    from chat.cluster.dbcommand import db_command as run

    return run(argv)


def audit_command(argv: List[str]) -> int:
    """``audit verify`` / ``audit export`` (chat/ops/audit_cli.py)."""
    from chat.ops.audit_cli import audit_command as run

    return run(argv)


def export_user_command(argv: List[str]) -> int:
    """``export-user --school S --user U --output FILE`` (chat/ops/export_cli.py)."""
    from chat.ops.export_cli import export_user_command as run

    return run(argv)


COMMANDS: Dict[str, Callable[[List[str]], int]] = {
    "serve": serve_command,
    "token": token_command,
    "import-roster": import_roster_command,
    "check-config": check_config_command,
    "backup": backup_command,
    "restore": restore_command,
    "db": db_command,
    "audit": audit_command,
    "export-user": export_user_command,
}


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch to a command (``serve`` when the first argument names none)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [CHILD_COMMAND]:
        return _embedded_child(argv[1:])
    if getattr(sys, "frozen", False):
        follow_launcher()
    if argv[:1] in (["--version"], ["-V"], ["version"]):
        print("%s %s" % (PROG, __version__))
        return 0
    if argv and argv[0] in COMMANDS and argv[0] != "serve":
        return COMMANDS[argv[0]](argv[1:])
    if argv and not argv[0].startswith("-") and argv[0] != "serve":
        return _fail("unknown command %r; commands: %s (see --help)" % (argv[0], ", ".join(COMMANDS)))
    return serve_command(argv)


if __name__ == "__main__":
    import multiprocessing

    # the one-file executable also runs the image workers' fork server (chat/uploads/imageworker.py)
    multiprocessing.freeze_support()
    sys.exit(main())
