"""Indexes under the names the operator's runbook uses, and its index on messages.session_id.

The runbook's "Database optimization" statements name ``idx_messages_session_id``,
``idx_documents_created_at``, ``idx_messages_session_created`` and ``idx_documents_status``.
With our indexes under those names, its statements (``IF NOT EXISTS`` form) find them and
create nothing twice; without, they would add duplicates under the other names.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMPLETED = sa.text("status = 'completed'")
# (table, old name, new name, columns, partial-index condition)
_RENAMED: tuple[tuple[str, str, str, list[str], sa.TextClause | None], ...] = (
    ("documents", "ix_documents_created_at", "idx_documents_created_at", ["created_at"], None),
    ("documents", "ix_documents_status_completed", "idx_documents_status", ["status"], _COMPLETED),
    (
        "messages",
        "ix_messages_session_id_created_at",
        "idx_messages_session_created",
        ["session_id", "created_at"],
        None,
    ),
)


def _rename(
    table: str, old: str, new: str, columns: list[str], where: sa.TextClause | None
) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER INDEX "{old}" RENAME TO "{new}"')  # no rebuild of a large table
        return
    op.drop_index(old, table_name=table)  # SQLite cannot rename an index
    op.create_index(new, table, columns, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    for table, old, new, columns, where in _RENAMED:
        _rename(table, old, new, columns, where)
    op.create_index("idx_messages_session_id", "messages", ["session_id"])


def downgrade() -> None:
    op.drop_index("idx_messages_session_id", table_name="messages")
    for table, old, new, columns, where in _RENAMED:
        _rename(table, new, old, columns, where)
