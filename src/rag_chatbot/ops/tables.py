"""Every table of the database as JSON lines, and back: the relational half of a backup.

Generic on purpose: the tables are *reflected* from the database (those of our models;
``alembic_version`` is the manifest's business), so a table a later migration adds is backed
up without touching this module. Rows are written one JSON object a line, in foreign-key
order; each column has a *kind* recorded in the manifest that says how its values were
encoded (``datetime``/``date``/``time``: ISO 8601, ``binary``: base64, ``decimal``: string,
``json``: the JSON value itself, ``plain``: as is), so decoding never guesses from a value.

Why JSON lines rather than ``pg_dump`` or SQLite's backup API: one format restores into
either backend (a SQLite deployment can move to PostgreSQL through a backup), it needs no
client tools matching the server's version, and each table's rows are counted and checked on
the way back. ``pg_dump`` remains the operator's tool for the database alone
(``scripts/backup-db.sh``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Time,
    func,
    select,
    text,
)

from rag_chatbot.db.models import Base
from rag_chatbot.errors import InvalidInput

_INSERT_BATCH = 500


def app_tables(connection: Connection) -> list[Table]:
    """Our tables as they exist in the database, parents before children."""
    metadata = MetaData()
    present = set(connection.dialect.get_table_names(connection))
    names = sorted(present & set(Base.metadata.tables))
    metadata.reflect(connection, only=names)
    return [t for t in metadata.sorted_tables if t.name in names]


def column_kind(column_type: Any) -> str:
    """How values of a column are encoded in JSON (see the module docstring)."""
    if isinstance(column_type, JSON):
        return "json"
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Time):
        return "time"
    if isinstance(column_type, LargeBinary):
        return "binary"
    if isinstance(column_type, Numeric) and not isinstance(column_type, Float):
        return "decimal" if column_type.asdecimal else "plain"
    return "plain"


def describe(table: Table) -> dict[str, str]:
    """Column name to kind, in the table's column order."""
    return {column.name: column_kind(column.type) for column in table.columns}


def count_rows(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def dump_table(connection: Connection, table: Table, out: IO[str]) -> int:
    """Write every row of ``table`` to ``out`` (one JSON object a line); return the count.

    Rows come in primary-key order, so two dumps of the same data are byte-identical.
    """
    kinds = describe(table)
    order = list(table.primary_key.columns) or list(table.columns)
    result = connection.execution_options(yield_per=1000).execute(select(table).order_by(*order))
    written = 0
    for row in result.mappings():
        record = {name: _encode(kinds[name], row[name]) for name in kinds}
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        written += 1
    return written


def load_table(
    connection: Connection, table: Table, kinds: Mapping[str, str], lines: Iterable[str]
) -> int:
    """Insert the rows of ``lines`` (written by ``dump_table``) into ``table``; return the count.

    Raises ``InvalidInput`` when a row names a column the table lacks or is not JSON.
    """
    unknown = set(kinds) - set(table.columns.keys())
    if unknown:
        raise InvalidInput(f"backup: table {table.name} has no column(s) {sorted(unknown)}")
    loaded = 0
    batch: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"backup: {table.name} line {number} is not JSON: {exc}") from exc
        batch.append({name: _decode(kinds.get(name, "plain"), v) for name, v in record.items()})
        if len(batch) >= _INSERT_BATCH:
            connection.execute(table.insert(), batch)
            loaded += len(batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
        loaded += len(batch)
    return loaded


def advance_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """PostgreSQL: move each serial/identity sequence past the restored ids.

    Rows are inserted with their ids, which does not advance a sequence: without this, the
    first new row of a table with integer ids would collide with a restored one.
    """
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = connection.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence:
                quote = connection.dialect.identifier_preparer.quote
                highest = f"SELECT MAX({quote(column.name)}) FROM {quote(table.name)}"
                connection.execute(
                    text(f"SELECT setval(:seq, COALESCE(({highest}), 0) + 1, false)"),
                    {"seq": sequence},
                )


def read_lines(stream: IO[bytes]) -> Iterator[str]:
    for raw in stream:
        yield raw.decode("utf-8")


def _encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("datetime", "date", "time"):
        return str(value.isoformat())
    if kind == "binary":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "decimal":
        return str(value)
    return value


def _decode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind == "datetime":
            return dt.datetime.fromisoformat(value)
        if kind == "date":
            return dt.date.fromisoformat(value)
        if kind == "time":
            return dt.time.fromisoformat(value)
        if kind == "binary":
            return base64.b64decode(value)
        if kind == "decimal":
            return Decimal(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"backup: bad {kind} value {value!r}") from exc
    return value
