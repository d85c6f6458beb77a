"""How answers, search results and reports look on a terminal and as JSON.

Answers and search results print as JSON in the HTTP API's shapes (``wire``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from rag_chatbot.domain import Answer, ScoredChunk
from rag_chatbot.wire import answer_json, search_json

__all__ = [
    "answer_json",
    "evaluation_table",
    "print_answer",
    "print_hits",
    "print_report",
    "search_json",
]


def print_answer(console: Console, answer: Answer) -> None:
    console.print(answer.answer, markup=False, highlight=False)
    if answer.citations:
        console.print()
    for c in answer.citations:
        section = c.section.removeprefix(c.title).removeprefix(" > ")
        where = f"{c.title} — {section}" if section else c.title
        console.print(f"[bold][{c.n}][/bold] {where}", highlight=False)
        console.print(f"    {c.url}", style="cyan", highlight=False)


def print_hits(console: Console, hits: list[ScoredChunk]) -> None:
    for rank, h in enumerate(hits, start=1):
        heading = h.chunk.heading or h.chunk.source
        console.print(f"[bold]{rank}. {heading}[/bold]  ({h.score:.3f})", highlight=False)
        console.print(f"   {h.chunk.url}", style="cyan", highlight=False)
        snippet = " ".join(h.chunk.text.split())
        console.print("   " + (snippet[:240] + ("…" if len(snippet) > 240 else "")), markup=False)


def print_report(console: Console, report: dict[str, Any]) -> None:
    console.print(
        f"added {report['added']}, updated {report['updated']}, unchanged {report['unchanged']}, "
        f"removed {report['removed']}, failed {report['failed']}, "
        f"skipped {report['skipped']} — "
        f"{report['chunks']} chunks in {report['seconds']:.1f} s",
        highlight=False,
    )
    for item in report["failures"]:
        console.print(f"  failed: {item['source']}: {item['reason']}", style="red", markup=False)
    for item in report["skipped_files"][:20]:
        console.print(
            f"  skipped: {item['source']}: {item['reason']}", style="yellow", markup=False
        )
    if report["skipped"] > 20:
        console.print(f"  … and {report['skipped'] - 20} more skipped", style="yellow")


def evaluation_table(result: dict[str, Any]) -> Table:
    """One row per question: answered or declined, the pages cited and the relevant ones."""
    table = Table("id", "question", "answer", "cited", "relevant", show_lines=False)
    for row in result["queries"]:
        verdict = "declined" if not row["grounded"] else ("hit" if row["citation_hit"] else "MISS")
        table.add_row(
            row["id"],
            row["question"][:60],
            verdict,
            "\n".join(row["cited"]) or "-",
            "\n".join(row["relevant"]) or "-",
        )
    for row in result.get("out_of_domain", []):
        kind = "near-topic" if row["near_topic"] else "unrelated"
        verdict = "declined" if not row["grounded"] else "ANSWERED"
        table.add_row(
            row["id"], row["question"][:60], verdict, "\n".join(row["cited"]) or "-", kind
        )
    return table
