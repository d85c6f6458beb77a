"""Reading a Server-Sent Events response in tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def sse_events(lines: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(event, data)`` pairs in order; ``data`` is the JSON of each ``data:`` line."""
    events = []
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, json.loads(line[6:])))
    return events
