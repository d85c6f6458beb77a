"""Every PostgreSQL URL form an operator may write works for the service and its migrations.

``postgresql://`` is what psql and pg_dump take and what the deployment files ship;
``postgres://`` is what many hosting providers hand out; ``postgresql+psycopg://`` names the
driver. All three must reach psycopg 3, the driver this build ships.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from postgres import fresh_database
from sqlalchemy import Engine

from rag_chatbot.db.migrate import current_revision, head_revision, upgrade_to_head


@pytest.mark.integration
@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_each_form_migrates_and_reports_its_revision(postgres_admin: Engine, scheme: str) -> None:
    with fresh_database(postgres_admin, "rag_urls") as url:
        written = scheme + "://" + url.split("://", 1)[1]
        assert upgrade_to_head(written) == head_revision()
        assert current_revision(written) == head_revision()
        shown = subprocess.run(
            [sys.executable, "-m", "rag_chatbot", "db", "current"],
            env={"DATABASE_URL": written, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr
        assert head_revision() in shown.stdout
