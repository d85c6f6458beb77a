"""Alembic environment: applies ``versions/`` to the database the settings point at.

The URL is the Alembic config's ``sqlalchemy.url`` when set (in ``alembic.ini``, or by
``migrate.alembic_config(url)``), else ``load_settings().resolved_database_url`` — that is,
``DATABASE_URL`` or the SQLite file in ``DATA_DIR``. Two callers:

- ``rag_chatbot.db.migrate`` passes an open connection in ``config.attributes["connection"]``
  and already holds the migration lock;
- the ``alembic`` command line, for which this module makes the engine and takes the same lock
  (``migrate.migration_lock``), so it is safe next to a starting server.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from rag_chatbot.db.migrate import migration_engine, migration_lock
from rag_chatbot.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from rag_chatbot.config import load_settings

    return load_settings().resolved_database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = migration_engine(_url())
    try:
        with engine.connect() as conn, migration_lock(conn):
            _run(conn)
    finally:
        engine.dispose()


if config.config_file_name is not None and config.file_config.has_section("loggers"):
    # Keep the application's loggers alive when the CLI configures logging from alembic.ini.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_offline()
else:
    run_online()
