"""The cluster envelope of a safeguarding change (chat/cluster/envelope.py Kind.SAFETY): what a
node publishes is what the others decode."""
from __future__ import annotations

from chat.cluster.envelope import Envelope, Kind
from chat.domain.safety.changes import KINDS


def test_a_safety_envelope_round_trips() -> None:
    for kind in KINDS:
        sent = Envelope(Kind.SAFETY, "node1", topic=kind, key="s1:x")
        got = Envelope.decode(sent.encode().encode("utf-8"))
        assert (got.kind, got.origin, got.topic, got.key) == (Kind.SAFETY, "node1", kind, "s1:x")


def test_other_envelopes_carry_no_topic() -> None:
    got = Envelope.decode(Envelope(Kind.CONVERSATION, "n", conversation_id="c", school="s").encode().encode())
    assert got.topic is None and got.key is None and got.conversation_id == "c"
