"""Every application table of a database as ``dump_table`` writes it, for comparing databases."""

from __future__ import annotations

import io

from sqlalchemy import Engine

from rag_chatbot.ops.tables import app_tables, dump_table


def table_dumps(engine: Engine) -> dict[str, str]:
    """Table name -> its rows as JSON lines, sorted by primary key."""
    with engine.connect() as connection:
        dumps = {}
        for table in app_tables(connection):
            out = io.StringIO()
            dump_table(connection, table, out)
            dumps[table.name] = out.getvalue()
        return dumps
