"""The audit log's hash chain, pure: how an entry is sealed and how a chain is verified.

Each school's entries form one chain. Entry ``seq`` n carries ``prev``, the ``hash`` of entry
n-1 of its school (:data:`GENESIS` for the first), and its own ``hash``: SHA-256 over the
canonical serialization of its hashed fields (:data:`HASHED`: ``school, at, actor, action,
target, detail, prev``) as JSON with sorted keys, no white space (``,`` and ``:``), UTF-8, no
NaN. ``seq`` (and ``chainKey``, the unique index built from it) is the entry's position; the
``prev`` links protect the position, the hash protects the content:

- an edited field no longer matches the entry's hash (**edited**);
- a deleted entry leaves a gap in ``seq``, or, when the later entries were renumbered, an entry
  whose ``prev`` is not the hash of the one before it (**deleted**);
- two entries swapped (their ``seq`` exchanged) show an entry whose ``prev`` is the hash of the
  entry after it (**reordered**); an entry slipped in shows the one after it pointing past it
  (**inserted**).

What a chain alone cannot show: its newest entries removed (nothing follows them), or the whole
chain rewritten from an edit onward by someone who recomputes every hash. Against both, keep a
school's head (``seq`` and ``hash``, printed by ``server.py audit verify``) or an export
somewhere else: a later chain must still contain it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Dict, Iterable, Iterator, List, Optional

from chat.store.audit_repo import chain_key

#: the ``prev`` of a school's first entry
GENESIS = "0" * 64

#: the fields the hash covers (besides these an entry holds ``seq``, ``chainKey`` and ``hash``)
HASHED = ("school", "at", "actor", "action", "target", "detail", "prev")


def plain(value: Any) -> Any:
    """``value`` as the JSON the entry is stored and hashed as, so what storage answers later
    hashes the same: booleans as 0/1 (the storage rules keep booleans out), integral floats
    as integers, tuples as lists, keys as strings, anything else (NaN, infinity, an integer
    past 64 bits) as its string."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # an enum's word, as the plain string
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value) if -2 ** 63 <= value < 2 ** 63 else str(value)  # BSON holds 64 bits
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def canonical(fields: Dict[str, Any]) -> bytes:
    """The canonical serialization hashed: JSON, sorted keys, ``,``/``:`` separators, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(entry: Dict[str, Any]) -> str:
    """The SHA-256 (hex) of an entry's hashed fields (a missing field counts as null)."""
    return hashlib.sha256(canonical({name: entry.get(name) for name in HASHED})).hexdigest()


def seal(entry: Dict[str, Any], seq: int, prev: str) -> Dict[str, Any]:
    """The stored document of ``entry`` (school, at, actor, action, target, detail) as entry
    ``seq`` after the one whose hash is ``prev``."""
    doc = {name: plain(entry.get(name)) for name in HASHED if name != "prev"}
    doc["prev"] = prev
    doc["hash"] = entry_hash(doc)
    doc["seq"] = seq
    doc["chainKey"] = chain_key(str(doc["school"]), seq)
    return doc


@dataclasses.dataclass(frozen=True)
class Break:
    """The first bad entry of a school's chain."""

    school: str
    seq: int
    kind: str  # edited, deleted, reordered, inserted
    entry_id: str
    message: str

    def __str__(self) -> str:
        return "%s: entry seq %d%s: %s: %s" % (self.school, self.seq,
                                              " (id %s)" % self.entry_id if self.entry_id else "",
                                              self.kind, self.message)


@dataclasses.dataclass
class _School:
    count: int = 0
    expected: int = 1
    prev_hash: str = GENESIS
    before_prev: Optional[str] = None  # the hash the previous entry should have pointed at
    prev_seq: int = 0
    pending: Optional[Dict[str, Any]] = None  # an entry whose link broke, judged by the next one
    broken: Optional[Break] = None


class ChainVerifier:
    """Verifies chains fed entry by entry, each school's in ``seq`` order (schools may be
    mixed). Memory: a few hashes per school, whatever the number of entries."""

    def __init__(self) -> None:
        self._schools: Dict[str, _School] = {}

    def feed(self, entry: Dict[str, Any]) -> None:
        """Check the next entry of its school (nothing more is checked of a broken chain)."""
        school = str(entry.get("school"))
        st = self._schools.setdefault(school, _School())
        if st.broken is not None:
            return
        if st.pending is not None:
            self._judge_link(st, school, st.pending, following=entry)
            st.pending = None
            if st.broken is not None:
                return
        st.count += 1
        seq = entry.get("seq")
        entry_id = str(entry.get("id") or entry.get("_id") or "")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < st.expected:
            st.broken = Break(school, seq if isinstance(seq, int) else st.expected, "reordered", entry_id,
                              "seq %r where %d was expected (a duplicate or moved position)" % (seq, st.expected))
            return
        if entry.get("chainKey") is not None and entry.get("chainKey") != chain_key(school, seq):
            st.broken = Break(school, seq, "reordered", entry_id,
                              "its chainKey %r does not match its seq" % entry.get("chainKey"))
            return
        if seq > st.expected:
            gap = "seq %d" % st.expected if seq == st.expected + 1 else "seqs %d..%d" % (st.expected, seq - 1)
            st.broken = Break(school, seq, "deleted", entry_id, "%s missing before it" % gap)
            return
        if entry_hash(entry) != entry.get("hash"):
            st.broken = Break(school, seq, "edited", entry_id, "its content does not match its hash")
            return
        if entry.get("prev") != st.prev_hash:
            st.pending = entry  # deleted, reordered or inserted: the next entry tells which
            st.expected = seq + 1
            return
        self._advance(st, entry)

    def _advance(self, st: _School, entry: Dict[str, Any]) -> None:
        st.before_prev = st.prev_hash
        st.prev_hash = str(entry.get("hash"))
        st.prev_seq = int(entry["seq"])
        st.expected = st.prev_seq + 1

    def _judge_link(self, st: _School, school: str, entry: Dict[str, Any],
                    following: Optional[Dict[str, Any]]) -> None:
        """``entry`` is intact but does not point at the entry before it: say why."""
        seq = int(entry["seq"])
        entry_id = str(entry.get("id") or entry.get("_id") or "")
        if following is not None and entry.get("prev") == following.get("hash"):
            st.broken = Break(school, seq, "reordered", entry_id,
                              "it points at the entry after it (seq %r): the two were swapped" % following.get("seq"))
        elif entry.get("prev") == st.before_prev and st.prev_seq:
            st.broken = Break(school, st.prev_seq, "inserted", "",
                              "it is not part of the chain: entry seq %d points past it" % seq)
        else:
            st.broken = Break(school, seq, "deleted", entry_id,
                              "its prev is not the hash of entry seq %d: an entry before it was removed "
                              "(or that entry was edited and its hash recomputed)" % (seq - 1))

    def finish(self) -> List[Break]:
        """The first break of each broken chain (empty: every chain is intact)."""
        for school, st in self._schools.items():
            if st.pending is not None and st.broken is None:
                self._judge_link(st, school, st.pending, following=None)
                st.pending = None
        return [st.broken for st in self._schools.values() if st.broken is not None]

    def counts(self) -> Dict[str, int]:
        """Entries read per school."""
        return {school: st.count for school, st in self._schools.items()}

    def heads(self) -> Dict[str, tuple[int, str]]:
        """Each intact school's last ``(seq, hash)`` (keep it elsewhere: see the module doc)."""
        return {school: (st.prev_seq, st.prev_hash) for school, st in self._schools.items()
                if st.broken is None and st.prev_seq}


def verify(entries: Iterable[Dict[str, Any]]) -> List[Break]:
    """The first break of each school's chain among ``entries`` (each school's in seq order)."""
    verifier = ChainVerifier()
    for entry in entries:
        verifier.feed(entry)
    return verifier.finish()


def public(doc: Dict[str, Any]) -> Dict[str, Any]:
    """An entry as exported and answered: the hashed fields, ``seq`` and ``hash``."""
    return {name: doc.get(name) for name in ("seq",) + HASHED + ("hash",)}


def lines(entries: Iterable[Dict[str, Any]]) -> Iterator[str]:
    """JSON Lines of entries, each one line, keys sorted (an export ``audit verify`` can check
    again: every hashed field is there as stored)."""
    for entry in entries:
        yield json.dumps(public(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
