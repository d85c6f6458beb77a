"""docs/configuration.md lists every setting, and only settings (the table's first column)."""

from __future__ import annotations

import re
from pathlib import Path

from rag_chatbot.config import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
READ_BY_UVICORN = {"FORWARDED_ALLOW_IPS"}  # documented there, not a setting of ours


def _documented() -> set[str]:
    """The variables named in the first column of the table's rows."""
    names: set[str] = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_every_setting_is_documented() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - _documented() == set()


def test_every_documented_variable_is_a_setting() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    assert _documented() - settings - READ_BY_UVICORN == set()
