"""Bundles: the envelopes a routing call sends one node, as one Redis message."""
from __future__ import annotations

import pytest

from chat.cluster.envelope import BUNDLE, Envelope, Kind, bundle, unbundle
from chat.realtime.broker import Delivery, DeliveryKind


def test_a_bundle_gives_back_its_envelopes_in_order_whatever_bytes_they_hold() -> None:
    push = Envelope(Kind.PUSH, "A", "A:1", Delivery(DeliveryKind.MESSAGE, '{"event":"message:new","data":{"text":"*9:\\n"}}',
                                                    ("u1", "u2"), "s1", "c1", 7, "u1")).encode().encode()
    hold = Envelope(Kind.HOLD, "A", user_id="u1", nodes=2).encode().encode()
    odd = "ញ៉ាំ 12:*".encode()
    payloads = [push, hold, odd, b""]
    assert unbundle(bundle(payloads)) == payloads
    assert Envelope.decode(unbundle(bundle(payloads))[0]).delivery.seq == 7  # type: ignore[union-attr]


def test_a_single_envelope_is_its_own_payload() -> None:
    one = Envelope(Kind.RESYNC, "A").encode().encode()
    assert not one.startswith(BUNDLE)
    assert unbundle(one) == [one]


@pytest.mark.parametrize("bad", [b"*5:abc", b"*3abc", b"*x:abc", b"*-1:a"])
def test_a_bundle_no_node_wrote_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError):
        unbundle(bad)
