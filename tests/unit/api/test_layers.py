"""The HTTP API and the command line render answers from ``wire``; neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rag_chatbot

PACKAGE = Path(rag_chatbot.__file__).parent


def _imported(path: Path) -> set[str]:
    """The modules ``path`` imports (absolute names; relative imports resolved)."""
    module = ".".join(("rag_chatbot", *path.relative_to(PACKAGE).with_suffix("").parts))
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
    return names


def _modules(*parts: str) -> list[Path]:
    found = PACKAGE.joinpath(*parts)
    return sorted(found.rglob("*.py")) if found.is_dir() else [found.with_suffix(".py")]


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("api", ("rag_chatbot.cli",)),
        ("web", ("rag_chatbot.cli",)),
        ("cli", ("rag_chatbot.api.routes", "rag_chatbot.api.schemas")),
        ("wire", ("rag_chatbot.api", "rag_chatbot.cli", "rag_chatbot.web")),
    ],
)
def test_a_layer_does_not_import_its_neighbours(layer: str, forbidden: tuple[str, ...]) -> None:
    modules = _modules(layer)
    assert modules and all(path.is_file() for path in modules)
    offending = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules
        for name in _imported(path)
        if name.startswith(forbidden)
    }
    assert not offending
