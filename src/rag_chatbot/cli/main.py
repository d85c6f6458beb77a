"""The ``rag-chatbot`` command: thin commands over the same services the API uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rag_chatbot.answering.chat import Question
from rag_chatbot.cli.accounts import cache_app, users_app
from rag_chatbot.cli.backup import backup, restore
from rag_chatbot.cli.db import db_app
from rag_chatbot.cli.failures import (
    complain,
    debugging,
    fail,
    reported,
    set_debug,
    unexpected,
)
from rag_chatbot.cli.maintenance import index_app, sessions_app, vacuum
from rag_chatbot.cli.progress import IngestBar
from rag_chatbot.cli.render import (
    answer_json,
    evaluation_table,
    print_answer,
    print_hits,
    print_report,
    search_json,
)
from rag_chatbot.cli.reports import report_app
from rag_chatbot.config import load_settings
from rag_chatbot.container import Container, build_container, shared_vector_store
from rag_chatbot.domain import Answer
from rag_chatbot.errors import InvalidInput

APP = "rag_chatbot.api.app:app_from_environment"  # the ASGI app factory `serve` runs


class _Commands(typer.Typer):
    """The command group; an exception no command caught ends it with one line, status 1."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if debugging():
                raise  # typer's hook prints the traceback
            raise SystemExit(unexpected(exc).exit_code) from None


app = _Commands(
    help="Answer questions from your documents, with citations.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets (DATABASE_URL, keys)
)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(cache_app, name="cache")
out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    set_debug(debug)


@contextmanager
def _container() -> Iterator[Container]:
    with reported(2):
        container = build_container(load_settings())
    try:
        with reported(1):
            yield container
    finally:
        container.close()


def _inputs(text: str) -> list[str]:
    """``-`` reads one item a line from standard input (blank lines skipped); else the item."""
    if text != "-":
        return [text]
    return [line for line in _lines() if line]


def _lines() -> list[str]:
    """Standard input's lines, stripped; blank ones kept (as ``""``)."""
    return [line.strip() for line in sys.stdin]


def _emit(obj: dict[str, Any]) -> None:
    out.file.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.file.flush()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (recursive).")],
    as_json: JsonFlag = False,
) -> None:
    """Index documents; unchanged files are skipped, changed ones replaced, gone ones pruned."""
    with _container() as container:
        report = _run_ingest(container, paths, show_progress=err.is_terminal and not as_json)
    if as_json:
        _emit(report)
    else:
        print_report(out, report)
    if not any(report[key] for key in _SEEN):
        raise fail(f"no documents found in {', '.join(map(str, paths))} ({_supported()})")
    if report["failed"] and not (report["added"] or report["updated"] or report["unchanged"]):
        # Nothing could be indexed at all: a script should notice.
        raise typer.Exit(1)


# An ingest that counts none of these found no document at all (nor one to prune).
_SEEN = ("added", "updated", "unchanged", "removed", "failed", "skipped")


def _supported() -> str:
    from rag_chatbot.ingestion.loaders import SUPPORTED_EXTENSIONS

    return "supported: " + ", ".join(sorted(SUPPORTED_EXTENSIONS))


def _run_ingest(container: Container, paths: list[Path], show_progress: bool) -> dict[str, Any]:
    pipeline = container.pipeline
    if not show_progress:
        return pipeline.ingest_paths(paths).as_dict()
    with IngestBar(err) as bar:
        return pipeline.ingest_paths(paths, progress=bar).as_dict()


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, or - for one a line on stdin.")],
    selected_text: Annotated[
        str | None, typer.Option("--selected-text", help="Answer from this text.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the ingested documents, with numbered citations."""
    with _container() as container:
        if question != "-":
            _print_answer(
                container.chat.ask(Question(question, selected_text=selected_text)).answer, as_json
            )
            return
        # One answer (or one error) per input line, so that outputs line up with inputs.
        answered = refused = 0
        for number, line in enumerate(_lines(), start=1):
            try:
                answer = container.chat.ask(Question(line, selected_text=selected_text)).answer
            except InvalidInput as exc:
                refused += 1
                if as_json:
                    _emit({"question": line, "error": str(exc)})
                else:
                    complain(f"line {number}: {exc}")
                continue
            answered += 1
            _print_answer(answer, as_json)
            if not as_json:
                out.rule()
    if refused and not answered:
        raise typer.Exit(1)


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        _emit(answer_json(answer))
    else:
        print_answer(out, answer)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The query, or - for one a line on stdin.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Show the passages that best match a query."""
    if not query.strip():
        raise fail("query must not be empty")
    with _container() as container:
        for item in _inputs(query):
            hits = container.retriever.retrieve(item, top_k).hits
            if as_json:
                _emit(search_json(hits))
            else:
                print_hits(out, hits)


@app.command("eval")
def evaluate_command(
    queries: Annotated[Path, typer.Argument(help="Benchmark queries (JSON lines).", exists=True)],
    ood: Annotated[
        Path | None,
        typer.Option(
            "--ood",
            exists=True,
            help="Questions the documents do not answer (JSON lines: question, near_topic).",
        ),
    ] = None,
    per_question: Annotated[
        bool, typer.Option("--per-question", help="A table of every question's answer.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Score retrieval (page recall, MRR, nDCG) and answers against a benchmark."""
    from rag_chatbot.evaluation.runner import evaluate, read_out_of_domain, read_queries

    with reported(1):
        asked = read_queries(queries)
        unanswerable = read_out_of_domain(ood) if ood is not None else None
    with _container() as container:
        result = evaluate(asked, container.retriever, container.answerer, unanswerable)
    if as_json:
        _emit(result)
        return
    if per_question:
        out.print(evaluation_table(result))
    for name, value in result["metrics"].items():  # type: ignore[attr-defined]
        out.print(f"{name:>28}  {value:.3f}", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API, the web reader (/) and the chat widget on one port."""
    import os

    import uvicorn

    from rag_chatbot.observability.logging import configure_logging
    from rag_chatbot.observability.metrics import prepare_multiprocess_dir
    from rag_chatbot.serving.workers import ReusePortWorkers, reuse_port_supported

    # Concurrent requests already keep the cores busy; a model call that also spreads over them
    # only contends (docs/benchmarks.md, the HTTP service under load). Ingest keeps them all.
    os.environ.setdefault("EMBEDDING_THREADS", "1")
    with reported(2):
        settings = load_settings()
        configure_logging(settings.log_dir, settings.log_level, settings.log_format)
    if workers > 1:
        # Set before any worker imports the metrics, so all of them write per-process files.
        metrics_dir = Path(
            os.environ.setdefault(
                "PROMETHEUS_MULTIPROC_DIR", str(settings.data_dir.resolve() / "prometheus")
            )
        )
        prepare_multiprocess_dir(metrics_dir)
    with ExitStack() as shared:
        if workers > 1 and not settings.qdrant_url:
            # The embedded index opens in one process only: this one, serving it to the workers.
            with reported(2):
                shared.enter_context(shared_vector_store(settings))
        options: dict[str, Any] = {"factory": True, "log_config": None, "access_log": False}
        if workers > 1 and reuse_port_supported():
            # A listening socket per worker: the kernel spreads connections evenly.
            config = uvicorn.Config(APP, host=host, port=port, workers=workers, **options)
            ReusePortWorkers(config).run()
        else:
            uvicorn.run(APP, host=host, port=port, workers=workers, **options)


@app.command()
def quickstart(
    docs: Annotated[
        Path | None, typer.Argument(help="Documents to index (default: this project's docs/).")
    ] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve", help="Then serve the reader and chat (until Ctrl-C).")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for --serve.")] = 8000,
) -> None:
    """Index this project's own documentation and answer a question about it."""
    target = docs or _project_docs()
    question = "How do I ingest a folder of documents?"
    with _container() as container:
        report = _run_ingest(container, [target], show_progress=err.is_terminal)
        print_report(out, report)
        out.rule(f"[bold]{question}")
        print_answer(out, container.chat.ask(Question(question)).answer)
    out.rule()
    out.print(
        'Ask your own: rag-chatbot ask "…"   ·   index your documents: rag-chatbot ingest DIR'
    )
    if serve_after:
        out.print(f"Reader and chat: http://127.0.0.1:{port}/  (Ctrl-C stops)", highlight=False)
        serve(host="127.0.0.1", port=port, workers=1)
    else:
        out.print("Read and chat in the browser: rag-chatbot serve, then http://127.0.0.1:8000/")


def _project_docs() -> Path:
    for candidate in (Path.cwd() / "docs", Path(__file__).resolve().parents[3] / "docs"):
        if (candidate / "index.md").is_file():
            return candidate
    raise typer.BadParameter("no docs/ directory found; pass a path: rag-chatbot quickstart DIR")


# Operations (rag_chatbot.ops), listed after the everyday commands.
app.command()(backup)
app.command()(restore)
app.add_typer(sessions_app, name="sessions")
app.add_typer(index_app, name="index")
app.add_typer(report_app, name="report")
db_app.command("vacuum")(vacuum)
