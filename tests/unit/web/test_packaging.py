"""A wheel built from the project ships the web pages' templates and static files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "src" / "rag_chatbot" / "web"

pytestmark = pytest.mark.slow


def test_the_wheel_holds_every_template_and_static_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copy(ROOT / "README.md", project)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", project / "src", ignore=ignore)
    build = ["wheel", ".", "--no-deps", "--no-build-isolation", "--quiet"]
    subprocess.run(
        [sys.executable, "-m", "pip", *build, "--wheel-dir", str(tmp_path / "dist")],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("rag_chatbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        "rag_chatbot/web/" + path.relative_to(WEB).as_posix()
        for path in WEB.rglob("*")
        if path.is_file() and path.suffix in {".html", ".js", ".css"}
    }
    assert len(wanted) > 10
    assert wanted - names == set()
