"""Safeguarding: the rules a school sets for who may talk to whom and what may be said.

Every rule is enforced in one place, :class:`chat.domain.safety.gate.SafetyGate`, which the
domain actions call on every path that creates a conversation, changes its participants or
title, or posts or edits a message (REST, sockets, bots and scheduled sends alike, on every
cluster node). Each rule is one module here implementing :class:`chat.domain.safety.gate.SafetyRule`.
"""
