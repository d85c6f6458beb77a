"""The database goes away: the detailed health says so (503), liveness keeps answering."""

from __future__ import annotations

import pytest
from postgres import fresh_database
from security_support import Factory, browser, client
from sqlalchemy import Engine

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_lost_database_is_reported_unhealthy(
    make_container: Factory, postgres_admin: Engine
) -> None:
    with fresh_database(postgres_admin, "rag_outage") as url:
        container = make_container(database_url=url)
        async with client(container, browser()) as http:
            assert (await http.get("/api/health/detailed")).status_code == 200
            name = url.rsplit("/", 1)[1]
            with postgres_admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            detailed = await http.get("/api/health/detailed")
            assert detailed.status_code == 503
            assert detailed.json()["services"]["database"] == "unhealthy"
            assert detailed.json()["status"] == "unhealthy"
            assert (await http.get("/api/health")).status_code == 200  # liveness: the process
