"""A command that fails says so in one line naming the thing, with status 2 (could not start)
or 1 (the work failed), and shows a traceback only under --debug."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import clean_environment, cli

pytestmark = pytest.mark.integration


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line the command wrote on stderr (asserted to be the only one)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_string_that_is_not_a_database_url_is_refused_without_repeating_it(
    tmp_path: Path,
) -> None:
    result = cli("search", "x", data_dir=tmp_path, DATABASE_URL="foo-secret")
    assert result.returncode == 2
    line = one_line(result)
    assert "DATABASE_URL: not a database URL" in line
    assert "sqlite:///" in line and "postgresql://USER:PASSWORD@HOST:5432/DB" in line
    assert "foo-secret" not in line  # a URL may hold a password: never echoed


def test_a_database_other_than_sqlite_or_postgresql_is_refused(tmp_path: Path) -> None:
    result = cli("search", "x", data_dir=tmp_path, DATABASE_URL="mysql://u:hunter2@127.0.0.1/x")
    assert result.returncode == 2
    line = one_line(result)
    assert "DATABASE_URL: mysql is not supported" in line
    assert "hunter2" not in line


@pytest.mark.parametrize("command", [("search", "x"), ("db", "upgrade")], ids=["search", "db"])
def test_a_sqlite_file_in_a_missing_directory_is_refused_not_created(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    result = cli(*command, data_dir=tmp_path / "data", DATABASE_URL=f"sqlite:///{missing}/x.db")
    assert result.returncode == 2
    line = one_line(result)
    assert "DATABASE_URL" in line and f"{missing} does not exist" in line
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_sqlite_file_still_makes_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    result = cli("search", "x", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert (data / "rag-chatbot.db").is_file()


@pytest.mark.parametrize("as_json", [False, True])
def test_a_folder_without_documents_is_a_hint_and_status_1(tmp_path: Path, as_json: bool) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.md").write_text("# not a document: hidden\n")
    result = cli("ingest", str(empty), *(["--json"] if as_json else []), data_dir=tmp_path / "d")
    assert result.returncode == 1
    line = one_line(result)
    assert f"no documents found in {empty}" in line
    assert ".md" in line and ".html" in line
    if as_json:
        assert json.loads(result.stdout)["added"] == 0  # the summary is still printed


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_query_is_refused(tmp_path: Path, query: str) -> None:
    result = cli("search", query, data_dir=tmp_path)
    assert result.returncode == 1
    assert one_line(result) == "error: query must not be empty"
    assert result.stdout == ""


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_question_is_refused_the_same_way(tmp_path: Path, question: str) -> None:
    result = cli("ask", question, data_dir=tmp_path)
    assert result.returncode == 1
    assert one_line(result) == "error: question must not be empty"


def test_batch_questions_give_one_json_line_per_input_line(tmp_path: Path) -> None:
    asked = "When does the fog horn sound?\n\n   \nHow hot should green tea water be?\n"
    result = cli("ask", "-", "--json", data_dir=tmp_path, stdin=asked)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(asked.splitlines()) == 4
    empty = {"question": "", "error": "question must not be empty"}
    assert lines[1] == empty and lines[2] == empty
    for answer in (lines[0], lines[3]):
        assert set(answer) >= {"answer", "session_id", "message_id", "grounded", "citations"}
        assert "error" not in answer


def test_batch_questions_that_are_all_blank_end_with_status_1(tmp_path: Path) -> None:
    as_json = cli("ask", "-", "--json", data_dir=tmp_path, stdin="\n\n")
    assert as_json.returncode == 1
    assert [json.loads(line)["error"] for line in as_json.stdout.splitlines()] == [
        "question must not be empty"
    ] * 2
    as_text = cli("ask", "-", data_dir=tmp_path, stdin="\n")
    assert as_text.returncode == 1
    assert one_line(as_text) == "error: line 1: question must not be empty"


HOLDER = """
import sys
from rag_chatbot.config import load_settings
from rag_chatbot.container import build_container

container = build_container(load_settings())
print("open", flush=True)
sys.stdin.read()  # until the test closes it
container.close()
"""


@pytest.fixture
def index_held_elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A DATA_DIR whose embedded index another process (a container, as ``serve`` builds) has
    open."""
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**clean_environment(), "DATA_DIR": str(data)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield data
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_ingest_beside_a_process_holding_the_index_says_what_to_do(
    index_held_elsewhere: Path, fixture_corpus: Path
) -> None:
    result = cli("ingest", str(fixture_corpus), data_dir=index_held_elsewhere)
    assert result.returncode == 2
    line = one_line(result)
    assert "already open in another process" in line
    assert "rag-chatbot serve" in line
    assert "POST /api/documents" in line and "/admin" in line
    assert "WouldBlock" not in line


def test_an_unexpected_error_while_starting_is_one_line_and_status_2(tmp_path: Path) -> None:
    # DATA_DIR is a file: making the folder for the database fails (an OSError, not ours).
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = cli("search", "x", data_dir=not_a_folder)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("error: FileExistsError: ")
    assert line.endswith("(run with --debug for the traceback)")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = cli("--debug", "search", "x", data_dir=not_a_folder)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "FileExistsError" in result.stderr


BROKEN_OUTPUT = """
import sys
import rag_chatbot.cli.main as cli

def broken(*args, **kwargs):
    raise KeyError("no such column")

cli.print_report = broken  # fails after the work, outside any handler of the command
sys.argv = ["rag-chatbot", *sys.argv[1:]]
cli.app()
"""


def test_an_unexpected_error_in_a_command_is_one_line_and_status_1(
    tmp_path: Path, fixture_corpus: Path
) -> None:
    command = [sys.executable, "-c", BROKEN_OUTPUT, "ingest", str(fixture_corpus)]
    env = {**clean_environment(), "DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1
    assert one_line(result) == (
        "error: KeyError: 'no such column' (run with --debug for the traceback)"
    )
    debugged = subprocess.run(
        [*command[:3], "--debug", *command[3:]],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert debugged.returncode == 1
    assert "Traceback" in debugged.stderr and "no such column" in debugged.stderr
