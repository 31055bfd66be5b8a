"""Safeguarding settings every process keeps a copy of, and how a change made in one process
reaches the others' copies at once.

A node that stores a change applies it to its own copy and announces it through the event sink
(:meth:`chat.events.EventSink.safety_changed`, relayed by a cluster's broker on its
cluster-wide channel); every other node's service then drops its copy
(:meth:`chat.domain.service.ChatService.safety_changed_elsewhere`), so the next use re-reads
storage. The caches' TTLs (``policy_refresh``, ``block_cache_ttl``, ``filter_cache_seconds``)
stay as the fallback for an announcement lost in a Redis outage.
"""
from __future__ import annotations

import logging

from chat.domain.core import Core

log = logging.getLogger("chat.safety.changes")

#: what changed (the ``kind``) and what its ``key`` names
POLICY = "policy"    # a school's policy: the school id
FILTERS = "filters"  # a school's word lists: the school id
BLOCKS = "blocks"    # the blocks a user made or is under: the user id
MUTES = "mutes"      # a conversation's mutes: the conversation id
KINDS = (POLICY, FILTERS, BLOCKS, MUTES)


def announce(core: Core, kind: str, key: str) -> None:
    """This process stored a change (and applied it to its own copy): tell the others."""
    core.events.safety_changed(kind, key)


def safety_changed_elsewhere(core: Core, kind: str, key: str) -> None:
    """Drop this process's copy of what another process changed."""
    from chat.domain.safety.blocks import rule_of  # the rules are built with the service
    from chat.domain.safety.filters import WordFilter
    from chat.domain.safety.school_policy import policy_rule
    if kind == POLICY:
        rule = policy_rule(core)
        rule.policies.forget(key)
        rule.forget_verdicts()
    elif kind == FILTERS:
        for r in core.safety.rules:
            if isinstance(r, WordFilter):
                r.book.forget(key)
    elif kind == BLOCKS:
        rule_of(core).book.blocks_changed(key)
    elif kind == MUTES:
        rule_of(core).book.mutes_changed(key)
    else:  # a newer node's kind: its TTL still applies here
        log.warning("an unknown safeguarding change %r from another node", kind)
