"""The safeguarding rules a service is built with, in the order they are asked."""
from __future__ import annotations

from typing import List

from chat.domain.core import Core
from chat.domain.safety.gate import SafetyRule


def build_rules(core: Core) -> List[SafetyRule]:
    """Every rule of the school's safeguarding, built on the domain's shared dependencies."""
    rules: List[SafetyRule] = []
    # --- safeguarding: school policy (add below)

    # --- safeguarding: reports and moderation (add below)

    # --- safeguarding: blocks, mutes, slow mode (add below)

    # --- safeguarding: word filters (add below)
    from chat.domain.safety.filters import WordFilter  # here: each section's lines stay under its anchor
    rules.append(WordFilter(core))

    return rules
