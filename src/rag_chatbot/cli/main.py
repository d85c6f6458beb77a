"""The ``rag-chatbot`` command: thin commands over the same services the API uses.

The command groups live in their own modules (``questions``, ``server``, ``accounts``,
``maintenance``, ...); this one builds the command, registers them in the order ``--help``
lists them, and keeps ``ingest`` and ``quickstart``, the commands that index documents.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from rag_chatbot.answering.chat import Question
from rag_chatbot.cli.accounts import cache_app, users_app
from rag_chatbot.cli.analytics import analytics_app
from rag_chatbot.cli.backup import backup, restore
from rag_chatbot.cli.db import db_app
from rag_chatbot.cli.failures import debugging, fail, set_debug, unexpected
from rag_chatbot.cli.maintenance import index_app, sessions_app, vacuum
from rag_chatbot.cli.progress import IngestBar
from rag_chatbot.cli.questions import ask, evaluate_command, search
from rag_chatbot.cli.render import print_answer, print_report
from rag_chatbot.cli.reports import report_app
from rag_chatbot.cli.runtime import JsonFlag, emit, err, open_container, out
from rag_chatbot.cli.server import serve
from rag_chatbot.cli.sites import crawl, crawl_options, is_url, merged, parse_every
from rag_chatbot.cli.worker import follow_ingest, worker
from rag_chatbot.container import Container


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


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    set_debug(debug)


@app.command()
def ingest(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Files or directories (recursive), or website URLs to crawl.",
            metavar="PATHS_OR_URLS...",
        ),
    ],
    include: Annotated[
        list[str], typer.Option(help="Crawl only URL paths matching this glob ('/guide/*').")
    ] = [],  # noqa: B006 - typer reads the default
    exclude: Annotated[list[str], typer.Option(help="Do not crawl URL paths matching this.")] = [],  # noqa: B006
    max_pages: Annotated[
        int | None, typer.Option(min=1, help="Pages a crawl fetches at most (CRAWL_MAX_PAGES).")
    ] = None,
    depth: Annotated[
        int | None, typer.Option(min=0, help="Links a crawl follows from its start.")
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="Crawl again at this interval (30m, 24h, 7d) until Ctrl-C.")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="With BROKER_URL: run as jobs on the workers and follow them."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Index documents or websites; unchanged ones are skipped, changed ones replaced, gone ones
    pruned."""
    urls = [t for t in targets if is_url(t)]
    paths = [Path(t) for t in targets if not is_url(t)]
    if not urls and (include or exclude or max_pages or depth is not None or every):
        raise fail("--include, --exclude, --max-pages, --depth and --every apply to URLs only")
    crawl_flags = {
        "include": include,
        "exclude": exclude,
        "max_pages": max_pages,
        "max_depth": depth,
    }
    if wait and (jobs := follow_ingest(targets, crawl_flags, every, as_json)) is not None:
        _print(jobs, as_json)
        if jobs["failed"] and not (jobs["added"] or jobs["updated"] or jobs["unchanged"]):
            raise typer.Exit(1)
        return
    with open_container() as container:
        options = crawl_options(container.sites.defaults, include, exclude, max_pages, depth)
        every_seconds = parse_every(every) if every else None
        show_progress = err.is_terminal and not as_json
        while True:
            report = merged(
                ([_run_ingest(container, paths, show_progress)] if paths else [])
                + (
                    [
                        crawl(
                            container.sites,
                            urls,
                            options,
                            every_seconds,
                            err if show_progress else None,
                        )
                    ]
                    if urls
                    else []
                )
            )
            _print(report, as_json)
            if every_seconds is None:
                break
            paths = []  # a schedule re-crawls the sites; folders are ingested once
            time.sleep(every_seconds)
    if not any(report[key] for key in _SEEN):
        raise fail(f"no documents found in {', '.join(targets)} ({_supported()})")
    if report["failed"] and not (report["added"] or report["updated"] or report["unchanged"]):
        # Nothing could be indexed at all: a script should notice.
        raise typer.Exit(1)


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(report)
    else:
        print_report(out, report)


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


app.command()(ask)
app.command()(search)
app.command("eval")(evaluate_command)
app.command()(serve)
app.command()(worker)


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
    with open_container() as container:
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
app.add_typer(analytics_app, name="analytics")
db_app.command("vacuum")(vacuum)
