"""``rag-chatbot db``: schema migrations of the configured database (DATABASE_URL / DATA_DIR)."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from rag_chatbot.cli.failures import reported
from rag_chatbot.config import load_settings
from rag_chatbot.db.engine import prepare_sqlite_directory
from rag_chatbot.db.migrate import current_revision, head_revision, upgrade_to_head

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
_out = Console()


def _database_url() -> str:
    with reported(2):
        settings = load_settings()
        prepare_sqlite_directory(settings)
        return settings.resolved_database_url


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@db_app.command()
def upgrade() -> None:
    """Migrate the database to the newest schema (adopts a database made without migrations)."""
    url = _database_url()
    with reported(1):
        revision = upgrade_to_head(url)
    _out.print(
        f"{_shown(url)}: at revision {revision} (head)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@db_app.command()
def current() -> None:
    """Print the database's schema revision and whether it is the newest."""
    url = _database_url()
    with reported(1):
        revision = current_revision(url)
    head = head_revision()
    if revision is None:
        state = "not migrated (run: rag-chatbot db upgrade)"
    elif revision == head:
        state = f"{revision} (head)"
    else:
        state = f"{revision} (head is {head}; run: rag-chatbot db upgrade)"
    _out.print(f"{_shown(url)}: {state}", highlight=False, markup=False, soft_wrap=True)
