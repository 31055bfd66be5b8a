"""The release number (kept equal to ``pyproject.toml``'s by a test) and the storage schema version."""
from __future__ import annotations

__version__ = "0.2.0"

# Bumped whenever stored documents change shape; start-up migrates older data forward
# (chat/ops/migrations.py) and refuses data written by a newer release.
SCHEMA_VERSION = 4
