"""``server.py audit verify`` and ``server.py audit export`` (README "Audit log").

- ``audit verify [--school S] [--file EXPORT.jsonl]``: reads every entry of the school (or of
  every school) in seq order, in short pages, and checks each school's hash chain
  (:mod:`chat.domain.oversight.audit_chain`). Exit 0 with ``ok N entries`` (and each school's
  head, worth keeping elsewhere); exit 1 naming the first bad entry of each broken chain
  (edited, deleted, reordered or inserted). ``--file`` checks a JSON Lines export instead.
- ``audit export --school S --format csv|jsonl [--output FILE]``: the school's entries, oldest
  first, streamed page by page (memory stays flat however long the log); into ``FILE.part``,
  renamed to ``FILE`` once complete (standard output without ``--output``).

Storage as ``import-roster`` finds it: ``--mongodb-uri``, else the running server's embedded
database (its state file in the data dir), else the data dir's database started for the
command. Exit 3 when storage does not answer.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from typing import Any, AsyncIterator, Callable, Dict, Iterable, List, Optional, TextIO, Tuple

from chat import settings as settings_mod
from chat.domain.oversight.audit_chain import ChainVerifier, lines, public
from chat.errors import Unavailable
from chat.ops.config_file import CONFIG_ENV, config_path, read_config
from chat.ops.embedded import EmbeddedError, EmbeddedMongo, read_state
from chat.settings import Settings, SettingsError
from chat.store import Store
from chat.store.audit_repo import AuditEntries, school_range
from chat.timeutil import iso

EXIT_BAD = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3

#: entries one storage query reads
PAGE = 500
#: above every chain key (they all start with a digit: the school id's length)
ALL_HIGH = ":"

CSV_COLUMNS = ("seq", "at", "actor", "action", "school", "target", "detail", "prev", "hash")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="school-chat audit", description=(
        "Verify the audit log's hash chains, or export a school's audit log."))
    sub = parser.add_subparsers(dest="action", required=True)
    verify = sub.add_parser("verify", help="check every entry's hash and link; exit 1 naming the first bad one")
    verify.add_argument("--school", default=None, help="only this school's chain (default: every school's)")
    verify.add_argument("--file", default=None, help="check a JSON Lines export instead of the database")
    export = sub.add_parser("export", help="write a school's entries, oldest first, as CSV or JSON Lines")
    export.add_argument("--school", required=True)
    export.add_argument("--format", required=True, choices=["csv", "jsonl"])
    export.add_argument("--output", default=None, help="file to write (default: standard output)")
    for command in (verify, export):
        command.add_argument("--config", metavar="FILE", default=None,
                             help="TOML config file (env %s)" % CONFIG_ENV)
        settings_mod.add_arguments(command, ["data_dir", "mongodb_uri", "db_name", "db_timeout_ms"])
    return parser


def _fail(message: str, code: int) -> int:
    print("error: %s" % message, file=sys.stderr)
    return code


def audit_command(argv: List[str]) -> int:
    """``audit verify|export ...``: the exit code."""
    args = _parser().parse_args(argv)
    if args.action == "verify" and args.file:
        try:
            with open(args.file, "r", encoding="utf-8") as fh:
                return _report(_verify_lines(fh, args.school))
        except (OSError, ValueError) as exc:
            return _fail("%s: %s" % (args.file, exc), EXIT_BAD)
    try:
        path = config_path(args.config, os.environ)
        settings = settings_mod.load(args, file_values=read_config(path) if path else None)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        with _storage(settings) as store:
            if args.action == "verify":
                return _report(asyncio.run(_verify_store(store, args.school)))
            return asyncio.run(_export(store, args.school, args.format, args.output))
    except EmbeddedError as exc:
        return _fail(str(exc), EXIT_STORAGE)
    except Unavailable:
        return _fail("storage does not answer", EXIT_STORAGE)


class _storage:
    """The store of the settings' database (started for the command when no server runs it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: Optional[EmbeddedMongo] = None
        self.store: Optional[Store] = None

    def __enter__(self) -> Store:
        uri = self.settings.mongodb_uri
        if not uri:
            state = read_state(self.settings.data_dir)
            if state is not None:
                uri = state["uri"]  # the running server's database: never open its file twice
            else:
                self.embedded = EmbeddedMongo(self.settings.data_dir)
                self.embedded.start()
                uri = self.embedded.uri
        self.store = Store(uri, self.settings.db_name, 2, self.settings.db_timeout_ms)
        return self.store

    def __exit__(self, *exc: Any) -> None:
        if self.store is not None:
            self.store.close()
        if self.embedded is not None:
            self.embedded.stop()


async def _entries(repo: AuditEntries, school: Optional[str]) -> AsyncIterator[Dict[str, Any]]:
    """Every entry of ``school`` (None: of every school, school by school), in seq order, page by page."""
    low, high = school_range(school) if school is not None else ("", ALL_HIGH)
    after = low
    while True:
        page = await repo.after(after, high, PAGE)
        for doc in page:
            yield doc
        if len(page) < PAGE:
            return
        after = str(page[-1]["chainKey"])


async def _verify_store(store: Store, school: Optional[str]) -> ChainVerifier:
    verifier = ChainVerifier()
    async for doc in _entries(store.audit, school):
        verifier.feed(doc)
    return verifier


def _verify_lines(fh: Iterable[str], school: Optional[str]) -> ChainVerifier:
    verifier = ChainVerifier()
    for number, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise ValueError("line %d is not JSON" % number) from None
        if not isinstance(entry, dict):
            raise ValueError("line %d is not an entry" % number)
        if school is None or entry.get("school") == school:
            verifier.feed(entry)
    return verifier


def _report(verifier: ChainVerifier) -> int:
    """Print what verify found: exit 0 when every chain holds, 1 naming each first bad entry."""
    breaks = verifier.finish()
    counts = verifier.counts()
    heads = verifier.heads()
    for school in sorted(heads):
        seq, digest = heads[school]
        print("%s: %d entries, head seq %d hash %s" % (school, counts[school], seq, digest))
    if breaks:
        for found in breaks:
            print("error: audit log tampered: %s" % found, file=sys.stderr)
        return EXIT_BAD
    print("ok %d entries" % sum(counts.values()))
    return 0


def _csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (OWASP: lead with ')."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_row(doc: Dict[str, Any]) -> List[str]:
    entry = public(doc)
    compact: Callable[[Any], str] = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"),  # noqa: E731
                                                         ensure_ascii=False)
    at = entry.get("at")
    values: Tuple[Any, ...] = (entry.get("seq"), iso(at) if isinstance(at, int) else at, entry.get("actor"),
                               entry.get("action"), entry.get("school"), compact(entry.get("target")),
                               compact(entry.get("detail")), entry.get("prev"), entry.get("hash"))
    return [_csv_cell("" if v is None else str(v)) for v in values]


async def _export(store: Store, school: str, fmt: str, output: Optional[str]) -> int:
    partial = output + ".part" if output else None
    fh: TextIO = open(partial, "w", encoding="utf-8", newline="") if partial else sys.stdout
    count = 0
    try:
        writer = csv.writer(fh, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(CSV_COLUMNS)
        async for doc in _entries(store.audit, school):
            if doc.get("school") != school:
                continue
            if writer is not None:
                writer.writerow(_csv_row(doc))
            else:
                fh.writelines(lines([doc]))
            count += 1
    except BaseException:
        if partial:
            fh.close()
            os.unlink(partial)
        raise
    if partial and output:
        fh.close()
        os.replace(partial, output)
        print("wrote %d entries of %s to %s" % (count, school, output), file=sys.stderr)
    else:
        fh.flush()
    return 0
