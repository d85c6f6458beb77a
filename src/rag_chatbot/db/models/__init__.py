"""SQLAlchemy 2.0 tables, one module a part of the system; every table is importable from here.

Schema changes go through Alembic migrations (``db/migrations``); the tests check that they
match these models.
"""

from rag_chatbot.db.models.analytics import (
    QuestionRow,
    QuestionSourceRow,
    QuestionTopicRow,
    QuestionVectorRow,
)
from rag_chatbot.db.models.base import Base, UTCDateTime, utcnow
from rag_chatbot.db.models.conversations import FeedbackRow, MessageRow, SessionRow, UserRow
from rag_chatbot.db.models.index import ChunkRow, DocumentRow, IndexStateRow
from rag_chatbot.db.models.jobs import JobRow, JobTaskRow
from rag_chatbot.db.models.sites import PageRow, SiteRow

__all__ = [
    "Base",
    "ChunkRow",
    "DocumentRow",
    "FeedbackRow",
    "IndexStateRow",
    "JobRow",
    "JobTaskRow",
    "MessageRow",
    "PageRow",
    "QuestionRow",
    "QuestionSourceRow",
    "QuestionTopicRow",
    "QuestionVectorRow",
    "SessionRow",
    "SiteRow",
    "UTCDateTime",
    "UserRow",
    "utcnow",
]
