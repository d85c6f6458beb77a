"""Every benchmark script still imports what it uses and parses its arguments (``--help``).

The scripts print figures and are not run here (they need the docs-faq index and minutes);
``--help`` runs their imports, so a name moved out from under one fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
# Modules the scripts import, not scripts.
_LIBRARIES = {"_rules.py", "machine.py"}
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in _LIBRARIES)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_runs(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout.lower()
