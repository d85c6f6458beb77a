"""``ask``, ``search`` and ``eval``: questions put to the indexed documents from the terminal.

``ask`` and ``search`` take ``-`` for one question (or query) a line on standard input, and
with ``--json`` print JSON lines, one object an input line, in the API's shapes (``wire``).
``eval`` scores retrieval and answers against a benchmark file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag_chatbot.answering.chat import Question
from rag_chatbot.cli.failures import complain, fail, reported
from rag_chatbot.cli.render import (
    answer_json,
    evaluation_table,
    print_answer,
    print_hits,
    search_json,
)
from rag_chatbot.cli.runtime import JsonFlag, emit, inputs, lines, open_container, out
from rag_chatbot.domain import Answer
from rag_chatbot.errors import InvalidInput


def ask(
    question: Annotated[str, typer.Argument(help="The question, or - for one a line on stdin.")],
    selected_text: Annotated[
        str | None, typer.Option("--selected-text", help="Answer from this text.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the ingested documents, with numbered citations."""
    with open_container() as container:
        if question != "-":
            _print_answer(
                container.chat.ask(Question(question, selected_text=selected_text)).answer, as_json
            )
            return
        # One answer (or one error) per input line, so that outputs line up with inputs.
        answered = refused = 0
        for number, line in enumerate(lines(), start=1):
            try:
                answer = container.chat.ask(Question(line, selected_text=selected_text)).answer
            except InvalidInput as exc:
                refused += 1
                if as_json:
                    emit({"question": line, "error": str(exc)})
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
        emit(answer_json(answer))
    else:
        print_answer(out, answer)


def search(
    query: Annotated[str, typer.Argument(help="The query, or - for one a line on stdin.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Show the passages that best match a query."""
    if not query.strip():
        raise fail("query must not be empty")
    with open_container() as container:
        for item in inputs(query):
            hits = container.retriever.retrieve(item, top_k).hits
            if as_json:
                emit(search_json(hits))
            else:
                print_hits(out, hits)


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
    with open_container() as container:
        result = evaluate(asked, container.retriever, container.answerer, unanswerable)
    if as_json:
        emit(result)
        return
    if per_question:
        out.print(evaluation_table(result))
    for name, value in result["metrics"].items():  # type: ignore[attr-defined]
        out.print(f"{name:>28}  {value:.3f}", highlight=False)
