#!/usr/bin/env python3
"""Writes deploy/config.example.toml from the settings table (a test checks it is current)."""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chat.settings import OPTIONS  # noqa: E402

HEADER = """\
# school-chat configuration file (TOML). Every key is optional; the values shown are the defaults.
# Start with:  school-chat --config /etc/school-chat/config.toml
# Precedence: command-line flags > environment variables > this file > defaults.
# Unknown keys are errors. `school-chat check-config --config FILE` validates a file and prints
# the effective configuration with secrets masked. A relative data_dir is relative to this file.
"""


def render() -> str:
    """The example file's text."""
    out = [HEADER]
    for name, env, _conv, default, help_text in OPTIONS:
        if isinstance(default, bool):
            value = "true" if default else "false"
        elif isinstance(default, (str, list)):
            value = json.dumps(default)
        else:
            value = repr(default)
        out.append("\n# %s (env %s, flag --%s)\n# %s = %s\n" % (help_text, env, name.replace("_", "-"), name, value))
    return "".join(out)


if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.example.toml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render())
    print("wrote", path)


def readme_table() -> str:
    """The README's configuration table (a test checks the README holds exactly this)."""
    rows = ["| flag | env var | default | meaning |", "|---|---|---|---|"]
    for name, env, _conv, default, help_text in OPTIONS:
        shown = ("`%s`" % ",".join(default) if default else "`(empty)`") if isinstance(default, list) else (
            "`(empty)`" if default == "" else "`%s`" % (default,))
        rows.append("| `--%s` | `%s` | %s | %s |" % (name.replace("_", "-"), env, shown, help_text))
    return "\n".join(rows) + "\n"


def readme_ranges() -> str:
    """The README's table of numeric settings' ranges (a test checks the README holds exactly this)."""
    from chat.settings import RANGES

    rows = ["| setting | allowed values |", "|---|---|"]
    for name, _env, conv, _default, _help in OPTIONS:
        if conv in (int, float):
            rows.append("| `%s` | %s |" % (name, RANGES[name].text()))
    return "\n".join(rows) + "\n"
