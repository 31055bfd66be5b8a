"""``python server.py db``: the embedded nx-27017 alone, on a fixed port, for several servers.

Servers then run with ``--mongodb-uri mongodb://HOST:PORT/?directConnection=true``. The
database keeps the one-process-per-data-dir guard of the embedded default (its state file in
the data dir), so a server started on the same data dir without ``--mongodb-uri`` refuses to
open the SQLite file a second time. For tests and small sites; production uses MongoDB.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import List

from chat import settings as settings_mod
from chat.ops.embedded import EmbeddedError, EmbeddedMongo

log = logging.getLogger("chat.cluster.db")

EXIT_STORAGE = 3


def db_command(argv: List[str]) -> int:
    """Run the database until SIGINT/SIGTERM (supervised: a dead child is restarted)."""
    parser = argparse.ArgumentParser(prog="server.py db",
                                     description="Run the embedded database alone so several servers can share it.")
    parser.add_argument("--db-port", type=int, default=27017, help="port to listen on (default 27017)")
    settings_mod.add_arguments(parser, ["data_dir", "log_level"])
    args = parser.parse_args(argv)
    settings = settings_mod.load(args)
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mongo = EmbeddedMongo(settings.data_dir, port=args.db_port)
    try:
        mongo.start()
    except EmbeddedError as exc:
        log.error("could not start the database: %s", exc)
        return EXIT_STORAGE
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("database ready: --mongodb-uri '%s' (data: %s)", mongo.uri, mongo.db_path)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            mongo.check()
    finally:
        mongo.stop()
        log.info("database stopped")
    return 0
