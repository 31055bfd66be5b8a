"""The safeguarding rules a service is built with, in the order they are asked."""
from __future__ import annotations

from typing import List

from chat.domain.core import Core
from chat.domain.safety.blocks import BlockRule
from chat.domain.safety.gate import SafetyRule
from chat.domain.safety.school_policy import SchoolPolicyRule


def build_rules(core: Core) -> List[SafetyRule]:
    """Every rule of the school's safeguarding, built on the domain's shared dependencies."""
    rules: List[SafetyRule] = []
    # --- safeguarding: school policy (add below)
    rules.append(SchoolPolicyRule(core))

    # --- safeguarding: reports and moderation (add below)
    # (a moderator's mute_author is a conversation mute: the block rule enforces it)

    # --- safeguarding: blocks, mutes, slow mode (add below)
    rules.append(BlockRule(core))

    # --- safeguarding: word filters (add below)
    from chat.domain.safety.filters import WordFilter  # here: each section's lines stay under its anchor
    rules.append(WordFilter(core))

    # --- oversight: access grants (add below)

    # --- oversight: quiet hours (add below)
    from chat.domain.oversight.quiet_hours import QuietHoursRule  # each section keeps its lines together
    # asked first: a send refused for the hour must not count for slow mode or record a filter flag
    rules.insert(0, QuietHoursRule(core))

    # --- oversight: retention and holds (add below)

    return rules
