#!/usr/bin/env python3
"""School chat server.

    python server.py [--host H] [--port P] [--data-dir D] [--mongodb-uri URI] [--demo] ...
    python server.py token --user u1 --role student --school s1 [--name Alice] [--ttl 3600]
    python server.py import-roster FILE

Every option is also an environment variable (see README "Configuration").
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import logging
import signal
import sys
from typing import List, Optional

from chat import settings as settings_mod
from chat.auth import mint_token
from chat.embedded import EmbeddedError, EmbeddedMongo, read_state
from chat.errors import Unavailable
from chat.roster import RosterError, import_roster, parse_roster
from chat.runtime import Runtime, build_runtime
from chat.settings import Settings
from chat.store import Store

log = logging.getLogger("chat.server")

EXIT_STORAGE = 3


def _logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def _run(runtime: Runtime) -> int:
    import tornado.httpserver
    import tornado.ioloop

    from handlers.routes import make_app

    settings = runtime.settings
    try:
        await runtime.store.ensure_indexes()
    except Unavailable:
        log.error("storage at %s does not answer", runtime.storage_label)
        return EXIT_STORAGE
    await runtime.start()
    if settings.demo:
        from chat.demo import seed_demo
        await seed_demo(runtime.service)
    app = make_app(runtime)
    server = tornado.httpserver.HTTPServer(app, max_body_size=max(settings.max_body_bytes * 16, 1 << 20),
                                           xheaders=False)
    server.listen(settings.port, settings.host)
    supervisor = None
    if runtime.embedded is not None:
        supervisor = tornado.ioloop.PeriodicCallback(runtime.embedded.check, 500)
        supervisor.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Latency: full garbage collections scan every live object (thousands per socket set) and
    # stall the loop for tens of ms. Start-up objects are frozen out of them, and collections
    # run less often; the code creates few reference cycles, so memory stays flat (measured).
    gc.freeze()
    gc.set_threshold(50000, 50, 100)
    host = "[%s]" % settings.host if ":" in settings.host else settings.host
    log.info("serving http://%s:%d/ (storage: %s%s)", host, settings.port, runtime.storage_label,
             ", demo mode" if settings.demo else "")
    await stop.wait()
    log.info("shutting down: closing sockets, finishing in-flight work")
    runtime.draining = True
    server.stop()
    hub = app.settings.get("hub")
    if hub is not None:
        await hub.shutdown(timeout=5.0)
    await asyncio.wait_for(server.close_all_connections(), timeout=5.0)
    try:
        await runtime.close()  # queued sends finish, state written behind is written
    except Exception:
        log.exception("could not write the conversation state at shutdown")
    if supervisor is not None:
        supervisor.stop()
    return 0


def serve(settings: Settings) -> int:
    """Run the server until SIGINT/SIGTERM; returns the exit code."""
    _logging(settings.log_level)
    embedded: Optional[EmbeddedMongo] = None
    uri = settings.mongodb_uri
    if not uri:
        embedded = EmbeddedMongo(settings.data_dir)
        atexit.register(embedded.stop)
        try:
            embedded.start()
        except EmbeddedError as exc:
            log.error("could not start the embedded database: %s", exc)
            return EXIT_STORAGE
        uri = embedded.uri
    runtime = build_runtime(settings, uri, embedded)
    try:
        return asyncio.run(_run(runtime))
    finally:
        runtime.store.close()
        if embedded is not None:
            embedded.stop()
        log.info("stopped")


def token_command(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="server.py token", description="Print a token the server accepts.")
    parser.add_argument("--user", required=True)
    parser.add_argument("--role", required=True, choices=["student", "teacher", "admin"])
    parser.add_argument("--school", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    settings_mod.add_arguments(parser, ["data_dir", "jwt_secret", "jwt_public_key_file", "jwt_private_key_file",
                                        "jwt_issuer", "jwt_audience"])
    args = parser.parse_args(argv)
    settings = settings_mod.load(args)
    try:
        print(mint_token(settings, args.user, args.role, args.school, args.name, args.ttl))
    except ValueError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    return 0


def import_roster_command(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="server.py import-roster",
                                     description="Load users and classes (JSON or CSV) into the directory.")
    parser.add_argument("file")
    settings_mod.add_arguments(parser, ["data_dir", "mongodb_uri", "db_name", "log_level"])
    args = parser.parse_args(argv)
    settings = settings_mod.load(args)
    _logging("warning" if settings.log_level == "info" else settings.log_level)
    try:
        with open(args.file, "r", encoding="utf-8-sig") as fh:
            users, classes = parse_roster(fh.read(), args.file)
    except (OSError, RosterError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
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
                print("error: %s" % exc, file=sys.stderr)
                return EXIT_STORAGE
            uri = embedded.uri
    store = Store(uri, settings.db_name, 2, settings.db_timeout_ms)

    async def work() -> dict:
        await store.ensure_indexes()
        return await import_roster(store, users, classes)
    try:
        summary = asyncio.run(work())
    except Unavailable:
        print("error: storage does not answer", file=sys.stderr)
        return EXIT_STORAGE
    finally:
        store.close()
        if embedded is not None:
            embedded.stop()
    print("imported %(users)d users (%(newUsers)d new), %(classes)d classes (%(newClasses)d new)" % summary)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "token":
        return token_command(argv[1:])
    if argv and argv[0] == "import-roster":
        return import_roster_command(argv[1:])
    if argv and argv[0] == "db":
        from chat.cluster.dbcommand import db_command
        return db_command(argv[1:])
    parser = argparse.ArgumentParser(prog="server.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    settings_mod.add_arguments(parser)
    return serve(settings_mod.load(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
