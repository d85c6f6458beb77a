"""The analytics API over a real app, on SQLite and PostgreSQL: readers ask questions the
fixture corpus answers and paraphrases of two topics it does not (prices, an API), rate some
answers; the reports group, count and locate them, and a gap closes once a page answers it."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from analytics_clients import Clients, ask

from rag_chatbot.container import Container

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.slow]

PRICING = [
    "How much does it cost?",
    "What is the price of a subscription?",
    "What does the pro plan cost per month?",
    "Pricing for teams?",
    "How expensive is a licence?",
]
MISSING_API = [
    "Is there a REST API for the lamp schedule?",
    "Where is the API documentation?",
    "Can I read the keeper records through an HTTP API?",
    "Which API endpoints are there?",
]
LENS = "How often is the Fresnel lens cleaned?"
FOG = "When does the keeper start the fog horn?"
GREEN_TEA = "At what temperature is green tea brewed?"
BLACK_TEA = "How long does black tea steep?"
PRICES_PAGE = """# Prices

## Plans and what they cost

The price of a subscription depends on the plan. The pro plan costs 12 euros per month for
each keeper. Pricing for teams: a team subscription costs 40 euros per month. A licence for a
whole lighthouse service is priced at 400 euros a year, so it is less expensive per keeper.
"""
ROUTES = ("summary", "gaps", "questions", "pages")


async def test_the_reports_group_count_and_locate_what_readers_asked(
    clients: Clients, served: Container, tmp_path: Path
) -> None:
    admin = clients.admin()
    for question in PRICING:  # five readers, one way of asking each
        assert (await ask(clients.reader(), question))["grounded"] is False
    api_readers = [clients.reader(), clients.reader()]
    for i, question in enumerate(MISSING_API):
        assert (await ask(api_readers[i % 2], question))["grounded"] is False
    account = await clients.account("keeper-ann")
    browser = clients.reader()
    rated = {}
    for client, question in [(account, LENS), (account, FOG), (browser, GREEN_TEA)]:
        answer = await ask(client, question)
        assert answer["grounded"] is True, question
        rated[question] = (client, answer["message_id"])
    assert (await ask(browser, BLACK_TEA))["grounded"] is True
    for question, rating in [(LENS, -1), (FOG, 1), (GREEN_TEA, 1)]:
        client, message_id = rated[question]
        given = await client.post(f"/api/messages/{message_id}/feedback", json={"rating": rating})
        assert given.status_code == 200, given.text

    summary = (await admin.get("/api/admin/analytics/summary")).json()
    assert summary["questions"] == 13
    assert (summary["answered"], summary["unanswered"]) == (4, 9)
    assert summary["unanswered_rate"] == round(9 / 13, 4)
    assert summary["askers"] == 5 + 2 + 1 + 1
    assert summary["feedback"] == {"up": 2, "down": 1}
    assert len(summary["per_day"]) == 30
    assert sum(day["questions"] for day in summary["per_day"]) == 13
    assert sum(day["unanswered"] for day in summary["per_day"]) == 9
    assert summary["latency_ms"]["p50"] > 0
    assert summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"]

    gaps = (await admin.get("/api/admin/analytics/gaps")).json()
    assert gaps["total"] == 3 and gaps["pending"] == 0
    pricing, missing_api, disliked = gaps["gaps"]
    assert sorted(pricing["questions"]) == sorted(PRICING)
    assert (pricing["count"], pricing["unanswered"], pricing["askers"]) == (5, 5, 5)
    assert sorted(missing_api["questions"]) == sorted(MISSING_API)
    assert (missing_api["count"], missing_api["askers"]) == (4, 2)
    assert disliked["questions"] == [LENS]
    assert (disliked["count"], disliked["unanswered"], disliked["disliked"]) == (1, 0, 1)
    for gap in gaps["gaps"]:
        assert gap["status"] == "open"
        assert gap["label"] in gap["questions"]
        assert gap["first_seen"] <= gap["last_seen"]
        assert gap["nearest"], gap["label"]
        assert all(page["url"].startswith("/read/") for page in gap["nearest"])
    assert disliked["nearest"][0]["source"] == "lighthouse.md"
    assert disliked["nearest"][0]["url"] == "/read/lighthouse.md#lamp-maintenance"
    assert "api" in missing_api["keywords"]

    second = (await admin.get("/api/admin/analytics/gaps?limit=1&offset=1")).json()
    assert [g["id"] for g in second["gaps"]] == [missing_api["id"]] and second["total"] == 3

    topics = (await admin.get("/api/admin/analytics/questions")).json()
    by_label = {t["label"]: t for t in topics["topics"]}
    assert topics["topics"][0]["id"] == pricing["id"]
    assert (topics["topics"][0]["count"], topics["topics"][0]["answered_share"]) == (5, 0.0)
    tea = next(t for t in topics["topics"] if {q["text"] for q in t["questions"]} >= {GREEN_TEA})
    assert tea["answered_share"] == 1.0
    assert [page["source"] for page in tea["pages"]] == ["tea.txt"]
    assert sum(t["count"] for t in topics["topics"]) == 13
    assert len(by_label) == topics["total"]

    pages = (await admin.get("/api/admin/analytics/pages")).json()
    cited = {page["source"]: page for page in pages["pages"]}
    assert (cited["lighthouse.md"]["cited"], cited["lighthouse.md"]["up"]) == (2, 1)
    assert cited["lighthouse.md"]["down"] == 1
    assert cited["tea.txt"]["cited"] == 2 and cited["tea.txt"]["up"] == 1
    assert [page["source"] for page in pages["never_cited"]] == ["guides/composting.html"]

    # What the documents' owner does next: a page on prices. That gap closes; the other stays.
    (tmp_path / "prices.md").write_text(PRICES_PAGE, encoding="utf-8")
    served.pipeline.ingest_paths([tmp_path / "prices.md"])
    after = {g["id"]: g for g in (await admin.get("/api/admin/analytics/gaps")).json()["gaps"]}
    assert after[pricing["id"]]["status"] == "closed"
    assert after[missing_api["id"]]["status"] == "open"
    assert after[pricing["id"]]["nearest"][0]["source"] == "prices.md"
    for question in PRICING[:2]:  # new questions on prices are answered now
        assert (await ask(clients.reader(), question))["grounded"] is True
    later = (await admin.get("/api/admin/analytics/gaps")).json()
    closed = next(g for g in later["gaps"] if g["id"] == pricing["id"])
    assert (closed["status"], closed["count"], closed["asked"]) == ("closed", 5, 7)
    assert (await admin.get("/api/admin/analytics/summary")).json()["unanswered"] == 9


async def test_each_report_downloads_as_csv(clients: Clients) -> None:
    admin = clients.admin()
    await ask(clients.reader(), "Is there a price list for =HYPERLINK spreadsheets?")
    for route in ROUTES:
        by_query = await admin.get(f"/api/admin/analytics/{route}?format=csv")
        by_header = await admin.get(f"/api/admin/analytics/{route}", headers={"Accept": "text/csv"})
        for reply in (by_query, by_header):
            assert reply.status_code == 200
            assert reply.headers["content-type"] == "text/csv; charset=utf-8"
            assert reply.headers["content-disposition"].startswith(
                f'attachment; filename="{route}-'
            )
        assert by_query.text == by_header.text
        rows = list(csv.reader(io.StringIO(by_query.text)))
        assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows)
    gaps = list(
        csv.DictReader(io.StringIO((await admin.get("/api/admin/analytics/gaps?format=csv")).text))
    )
    assert any("spreadsheets" in row["questions"] for row in gaps)
    assert not any(cell.startswith("=") for row in gaps for cell in row.values())
    pages = list(
        csv.DictReader(io.StringIO((await admin.get("/api/admin/analytics/pages?format=csv")).text))
    )
    assert {row["source"] for row in pages} >= {
        "lighthouse.md",
        "tea.txt",
        "guides/composting.html",
    }


async def test_answers_from_the_response_cache_are_counted(clients: Clients) -> None:
    admin = clients.admin()
    before = (await admin.get("/api/admin/analytics/summary")).json()
    first = await ask(clients.reader(), "What is the fuel of the lamp?")
    again = await ask(clients.reader(), "What is the fuel of the lamp?")
    assert (first["cached"], again["cached"]) == (False, True)
    after = (await admin.get("/api/admin/analytics/summary")).json()
    hits = round(before["cache_hit_rate"] * before["questions"]) + 1
    assert after["questions"] == before["questions"] + 2
    assert after["cache_hit_rate"] == round(hits / after["questions"], 4)


async def test_every_route_wants_the_admin(clients: Clients) -> None:
    reader = await clients.account("reader-rob")
    for route in ROUTES:
        path = f"/api/admin/analytics/{route}"
        nobody = await clients.anonymous().get(path)
        assert nobody.status_code == 401 and nobody.json()["error_code"] == "UNAUTHORIZED"
        browser = await clients.reader().get(path)
        assert browser.status_code == 401
        refused = await reader.get(path)
        assert refused.status_code == 403 and refused.json()["error_code"] == "FORBIDDEN"
        assert (await reader.get(path + "?format=csv")).status_code == 403


async def test_any_two_days_make_a_period(clients: Clients) -> None:
    admin = clients.admin()
    week = (await admin.get("/api/admin/analytics/summary?from=2026-01-01&to=2026-01-07")).json()
    assert [d["date"] for d in week["per_day"]][::6] == ["2026-01-01", "2026-01-07"]
    assert week["questions"] == 0 and week["latency_ms"] == {"p50": None, "p95": None}
    backwards = await admin.get("/api/admin/analytics/summary?from=2026-02-01&to=2026-01-01")
    assert backwards.status_code == 200
    assert (backwards.json()["questions"], backwards.json()["per_day"]) == (0, [])
    no_gaps = await admin.get("/api/admin/analytics/gaps?from=2026-02-01&to=2026-01-01")
    assert no_gaps.json()["gaps"] == []
    ages = (await admin.get("/api/admin/analytics/summary?from=0001-01-01&to=9999-12-31")).json()
    last = date(9999, 12, 30)  # whose next midnight exists
    five_years = (last - timedelta(days=1829)).isoformat()
    assert (ages["from"], ages["to"], len(ages["per_day"])) == (five_years, last.isoformat(), 1830)
    for bad in ("from=yesterday", "to=0", "limit=0", "offset=-1", "format=xml", "to=2026-13-01"):
        reply = await admin.get(f"/api/admin/analytics/questions?{bad}")
        assert reply.status_code == 422, bad
        assert reply.json()["error_code"] == "INVALID_INPUT"
