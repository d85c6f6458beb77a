"""Lengths of time as people write them: ``90s``, ``30m``, ``24h``, ``7d``, ``2w``.

One reading for every option that takes one (``--since``, ``--every``); each caller says which
units it takes and keeps its own bounds and message.
"""

from __future__ import annotations

import re

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WRITTEN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z])\s*$", re.IGNORECASE)


def seconds_of(text: str, units: str = "smhdw", *, fractions: bool = False) -> float | None:
    """The seconds ``text`` says, or None when it is not a number and one of ``units``
    (``1.5h`` only with ``fractions``)."""
    match = _WRITTEN.match(text)
    if match is None or match[2].lower() not in units:
        return None
    if "." in match[1] and not fractions:
        return None
    return float(match[1]) * SECONDS[match[2].lower()]
