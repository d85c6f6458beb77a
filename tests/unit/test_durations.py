"""Written lengths of time: the units a caller takes, whole numbers unless it allows fractions."""

from __future__ import annotations

import pytest

from rag_chatbot.durations import seconds_of


@pytest.mark.parametrize(
    ("text", "units", "fractions", "seconds"),
    [
        ("90s", "smhdw", False, 90),
        (" 24H ", "smhdw", False, 86400),
        ("2w", "dw", False, 1_209_600),
        ("1.5h", "smhd", True, 5400),
        ("1.5h", "smhd", False, None),
        ("3h", "dw", False, None),
        ("daily", "smhdw", False, None),
        ("24", "smhdw", False, None),
        ("-1d", "smhdw", False, None),
    ],
)
def test_seconds_of(text: str, units: str, fractions: bool, seconds: float | None) -> None:
    assert seconds_of(text, units, fractions=fractions) == seconds
