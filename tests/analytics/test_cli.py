"""``rag-chatbot analytics ...`` in processes of their own, over what a server stored."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from testing_secrets import TEST_JWT_SECRET

from rag_chatbot.config import Settings
from rag_chatbot.container import build_container
from rag_chatbot.providers.embedders.base import Embedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PRICING = ["How much does it cost?", "What is the price of a subscription?", "Pricing for teams?"]
LENS = "How often is the Fresnel lens cleaned?"


@pytest.fixture(scope="module")
def data_dir(
    tmp_path_factory: pytest.TempPathFactory, onnx_embedder: Embedder, fixture_corpus: Path
) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("analytics-cli") / "data"
    settings = Settings(data_dir=data, environment="test", jwt_secret_key=TEST_JWT_SECRET)  # type: ignore[call-arg]
    container = build_container(settings, embedder=onnx_embedder)
    try:
        container.pipeline.ingest_paths([fixture_corpus])
        for question in PRICING:
            container.chat.chat(question, owner="anon:reader-one")
        lens = container.chat.chat(LENS, owner="user:someone")
        assert lens.message_id is not None
        container.chats.set_feedback(lens.message_id, 1)
    finally:
        container.close()
    yield data


def _run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "ENVIRONMENT": "test",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
    }
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "rag_chatbot", "analytics", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_summary_as_text_json_and_csv(data_dir: Path) -> None:
    text = _run(data_dir, "summary")
    assert text.returncode == 0, text.stderr
    assert "4 question(s) from 2 reader(s); 3 unanswered (75.0%); feedback +1 -0" in text.stdout
    report = json.loads(_run(data_dir, "summary", "--since", "2w", "--json").stdout)
    assert (report["questions"], report["unanswered"], len(report["per_day"])) == (4, 3, 14)
    rows = list(csv.DictReader(io.StringIO(_run(data_dir, "summary", "--csv").stdout)))
    assert len(rows) == 30 and sum(int(row["questions"]) for row in rows) == 4


def test_gaps_and_questions_group_by_meaning(data_dir: Path) -> None:
    gaps = _run(data_dir, "gaps", "--json")
    assert gaps.returncode == 0, gaps.stderr
    (pricing,) = json.loads(gaps.stdout)["gaps"]
    assert sorted(pricing["questions"]) == sorted(PRICING)
    assert pricing["status"] == "open" and pricing["nearest"]
    table = _run(data_dir, "questions")
    assert table.returncode == 0, table.stderr
    assert "2 topic(s)" in table.stdout and "lighthouse.md (1)" in table.stdout


def test_pages_and_refusals(data_dir: Path) -> None:
    pages = _run(data_dir, "pages")
    assert pages.returncode == 0, pages.stderr
    assert "lighthouse.md" in pages.stdout
    assert "never cited (2): guides/composting.html, tea.txt" in pages.stdout
    bad = _run(data_dir, "pages", "--since", "a month")
    assert bad.returncode == 2 and "30d or 4w" in bad.stderr
    both = _run(data_dir, "summary", "--json", "--csv")
    assert both.returncode == 2 and "one of --json and --csv" in both.stderr
