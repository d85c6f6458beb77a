"""The layers of docs/architecture.md, guarded: a module imports only from layers below its own.

An AST walk over src/rag_chatbot (no import is executed). Packages of the same layer may use
each other where they are services of one another (answering and ingestion, say), but the
entry points (the HTTP API, the reader, the operations modules, the CLI) never import each
other — with one exception, named here: the app factory mounts the reader beside the API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rag_chatbot

PACKAGE = Path(rag_chatbot.__file__).parent

# Lowest first. A top-level module or package of src/rag_chatbot and its layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "errors",
        "domain",
        "config",
        "config_rules",
        "wire",
        "observability",
        "durations",
        "__init__",
    ),
    ("providers", "db", "keyvalue"),
    ("retrieval", "cache", "auth", "ratelimit"),
    ("answering", "ingestion", "crawl", "evaluation", "jobs", "analytics"),
    ("container", "backends"),
    ("dependencies", "serving"),
    ("api", "web", "ops"),
    ("cli", "__main__"),
)
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}
ENTRY_POINTS = LAYER["api"]
ALLOWED = {("api", "web")}  # api/app.py mounts the reader's routes beside the API's


def _modules_imported(path: Path, package: Path) -> set[str]:
    """Every ``rag_chatbot`` module ``path`` imports, relative imports resolved."""
    module = ".".join(("rag_chatbot", *path.relative_to(package).with_suffix("").parts))
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
    return {n for n in names if n.startswith("rag_chatbot.")}


def _imports(path: Path, package: Path) -> set[str]:
    """The top-level packages of src/rag_chatbot that ``path`` imports."""
    return {name.split(".")[1] for name in _modules_imported(path, package)}


def _owner(path: Path, package: Path = PACKAGE) -> str:
    return path.relative_to(package).parts[0].removesuffix(".py")


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        own = _owner(path, package)
        for target in _imports(path, package) - {own}:
            low, high = LAYER[target], LAYER[own]
            upward = low > high
            sideways = low == high == ENTRY_POINTS and (own, target) not in ALLOWED
            if upward or sideways:
                found.append(f"{path.relative_to(package)} ({own}) imports {target}")
    return found


def test_every_module_has_a_layer() -> None:
    owners = {_owner(path) for path in PACKAGE.rglob("*.py")}
    assert owners <= set(LAYER), sorted(owners - set(LAYER))


def test_imports_point_down_the_layers() -> None:
    assert violations() == []


def test_the_command_line_renders_the_wire_format_not_the_apis_schemas() -> None:
    # The CLI may start the server (api.app, serving.workers) but renders answers from ``wire``.
    borrowed = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / "cli").rglob("*.py"))
        for name in _modules_imported(path, PACKAGE)
        if name.startswith(("rag_chatbot.api.routes", "rag_chatbot.api.schemas"))
    }
    assert borrowed == set()


def test_the_http_layer_runs_no_sql_of_its_own() -> None:
    # Queries live in db/; the API asks the repositories (and db.engine.ping for health).
    for path in sorted((PACKAGE / "api").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(name.startswith("sqlalchemy") for name in imported), path


def _names_imported(path: Path) -> set[str]:
    """``_modules_imported`` plus each name a ``from`` import takes (``rag_chatbot.db.models``
    for ``from rag_chatbot.db import models``)."""
    names = _modules_imported(path, PACKAGE)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_http_layer_answers_with_schemas_not_table_rows() -> None:
    # Routes map rows to api/schemas.py's models; a table row never reaches a response.
    for path in sorted((PACKAGE / "api").rglob("*.py")):
        imported = _names_imported(path)
        assert not any(name.startswith("rag_chatbot.db.models") for name in imported), path


def test_routes_ask_for_services_not_the_whole_container() -> None:
    # ``dependencies`` hands each route the services it names; the container is start-up's.
    for path in sorted((PACKAGE / "api" / "routes").rglob("*.py")):
        imported = _names_imported(path)
        assert "rag_chatbot.container" not in imported, path
        assert "rag_chatbot.dependencies.get_container" not in imported, path


def test_the_rule_sees_broken_imports(tmp_path: Path) -> None:
    # Guards the test above: upward and sideways imports are reported, not missed by the walk.
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "chat.py").write_text("from rag_chatbot.api.app import create_app\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "routes.py").write_text("from ..api import schemas\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "app.py").write_text("from rag_chatbot.web import routes\n")
    assert violations(tmp_path) == [
        "db/chat.py (db) imports api",
        "web/routes.py (web) imports api",
    ]
