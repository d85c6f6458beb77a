"""ChatRepository on SQLite and PostgreSQL: sessions, messages, feedback, frequent questions."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.chat import ChatRepository
from rag_chatbot.db.exchanges import TITLE_FROM_MESSAGE_CHARS
from rag_chatbot.db.models import FeedbackRow, MessageRow, SessionRow
from rag_chatbot.errors import InvalidInput, NotFound, SessionNotFound


def _count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _exchange(chat: ChatRepository, session_id: str, question: str) -> MessageRow:
    chat.add_message(session_id, "user", question)
    return chat.add_message(
        session_id,
        "assistant",
        f"answer to {question}",
        citations=[{"n": 1, "source": "a.md", "score": 0.5}],
        grounded=True,
        latency_ms=12.5,
        generator="extractive",
    )


def test_a_session_round_trips(chat: ChatRepository) -> None:
    made = chat.create_session("alice", "Lighthouses")
    got = chat.get_session(made.id)
    assert got is not None
    assert (got.owner, got.title) == ("alice", "Lighthouses")
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == UTC.utcoffset(None)
    assert chat.get_session("no-such-session") is None


def test_first_question_titles_an_untitled_session(chat: ChatRepository) -> None:
    session = chat.create_session(None, "")
    question = "  How   often is the Fresnel lens cleaned, and who does it " + "x" * 100
    chat.add_message(session.id, "assistant", "Welcome!")
    chat.add_message(session.id, "user", question)
    chat.add_message(session.id, "user", "a later question")
    title = chat.get_session(session.id).title  # type: ignore[union-attr]
    assert title.startswith("How often is the Fresnel lens cleaned")
    assert len(title) <= TITLE_FROM_MESSAGE_CHARS
    titled = chat.create_session(None, "Kept")
    chat.add_message(titled.id, "user", "anything")
    assert chat.get_session(titled.id).title == "Kept"  # type: ignore[union-attr]


def test_messages_keep_their_order_and_fields(chat: ChatRepository) -> None:
    session = chat.create_session("bob", "")
    for i in range(5):
        _exchange(chat, session.id, f"question {i}")
    listed = chat.list_messages(session.id)
    assert [m.content for m in listed[::2]] == [f"question {i}" for i in range(5)]
    assert [m.role for m in listed[:2]] == ["user", "assistant"]
    times = [m.created_at for m in listed]
    assert times == sorted(times) and len(set(times)) == len(times)
    answer = listed[1]
    assert answer.citations == [{"n": 1, "source": "a.md", "score": 0.5}]
    assert (answer.grounded, answer.latency_ms, answer.generator) == (True, 12.5, "extractive")
    assert listed[0].grounded is None
    assert [m.id for m in chat.list_messages(session.id, limit=3, offset=2)] == [
        m.id for m in listed[2:5]
    ]
    recent = chat.recent_messages(session.id, 3)
    assert [m.id for m in recent] == [m.id for m in listed[-3:]]
    assert chat.recent_messages(session.id, 0) == []
    assert chat.get_message(answer.id).content == answer.content  # type: ignore[union-attr]
    assert chat.get_message("nope") is None


def test_adding_a_message_bumps_the_session(chat: ChatRepository) -> None:
    older = chat.create_session("carol", "older")
    newer = chat.create_session("carol", "newer")
    assert [s.id for s in chat.list_sessions("carol")] == [newer.id, older.id]
    message = chat.add_message(older.id, "user", "back to this one")
    bumped = chat.get_session(older.id)
    assert bumped is not None and bumped.updated_at == message.created_at
    assert [s.id for s in chat.list_sessions("carol")] == [older.id, newer.id]


def test_add_message_refuses_unknown_sessions_and_roles(
    chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(SessionNotFound):
        chat.add_message("missing", "user", "hello")
    session = chat.create_session(None, "")
    with pytest.raises(InvalidInput):
        chat.add_message(session.id, "robot", "beep")
    assert _count(sessions, MessageRow) == 0


def test_sessions_are_listed_per_owner(chat: ChatRepository) -> None:
    mine = [chat.create_session("alice", f"a{i}") for i in range(3)]
    theirs = chat.create_session("bob", "b")
    nobody = chat.create_session(None, "n")
    assert [s.id for s in chat.list_sessions("alice")] == [s.id for s in reversed(mine)]
    assert [s.id for s in chat.list_sessions("bob")] == [theirs.id]
    assert [s.id for s in chat.list_sessions(None)] == [nobody.id]
    assert chat.list_sessions("nobody-at-all") == []
    page = chat.list_sessions("alice", limit=1, offset=1)
    assert [s.id for s in page] == [mine[1].id]
    with pytest.raises(InvalidInput):
        chat.create_session("x" * 129, "")


def test_a_session_and_its_messages_are_found_only_for_their_owner(chat: ChatRepository) -> None:
    alices = chat.create_session("alice", "")
    nobodys = chat.create_session(None, "")
    answer = _exchange(chat, alices.id, "why?")
    assert chat.owned_session(alices.id, "alice").id == alices.id
    assert chat.owned_session(nobodys.id, None).id == nobodys.id
    assert chat.owned_message(answer.id, "alice").content == answer.content
    # Another's session is answered exactly like a missing one; None is nobody, not anybody.
    for session_id, owner in [(alices.id, "bob"), (alices.id, None), (nobodys.id, "alice")]:
        with pytest.raises(SessionNotFound, match=f"session {session_id} not found"):
            chat.owned_session(session_id, owner)
    with pytest.raises(SessionNotFound, match="session missing not found"):
        chat.owned_session("missing", "alice")
    for message_id, owner in [(answer.id, "bob"), (answer.id, None), ("missing", "alice")]:
        with pytest.raises(NotFound, match=f"message {message_id} not found"):
            chat.owned_message(message_id, owner)


def test_deleting_a_session_removes_its_messages_and_feedback(
    chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    doomed = chat.create_session("alice", "")
    kept = chat.create_session("alice", "")
    for session_id in (doomed.id, kept.id):
        answer = _exchange(chat, session_id, "why?")
        chat.set_feedback(answer.id, 1, "good")
    assert (_count(sessions, MessageRow), _count(sessions, FeedbackRow)) == (4, 2)

    assert chat.delete_session(doomed.id) is True
    assert chat.get_session(doomed.id) is None
    assert (_count(sessions, SessionRow), _count(sessions, MessageRow)) == (1, 2)
    assert _count(sessions, FeedbackRow) == 1
    assert len(chat.list_messages(kept.id)) == 2
    assert chat.delete_session(doomed.id) is False


def test_feedback_is_one_per_message_and_updatable(
    chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    session = chat.create_session(None, "")
    answer = _exchange(chat, session.id, "q")
    first = chat.set_feedback(answer.id, 1, "helpful")
    second = chat.set_feedback(answer.id, -1, None)
    assert second.id == first.id
    assert _count(sessions, FeedbackRow) == 1
    stored = chat.get_feedback(answer.id)
    assert stored is not None and (stored.rating, stored.comment) == (-1, None)


@pytest.mark.parametrize("rating", [0, 2, -2, True])
def test_an_invalid_rating_writes_nothing(
    chat: ChatRepository, sessions: sessionmaker[Session], rating: int
) -> None:
    session = chat.create_session(None, "")
    answer = _exchange(chat, session.id, "q")
    with pytest.raises(InvalidInput):
        chat.set_feedback(answer.id, rating, "hmm")
    assert _count(sessions, FeedbackRow) == 0


def test_feedback_needs_an_existing_answer(
    chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(NotFound):
        chat.set_feedback("no-such-message", 1, None)
    session = chat.create_session(None, "")
    question = chat.add_message(session.id, "user", "q")
    with pytest.raises(InvalidInput):
        chat.set_feedback(question.id, 1, None)
    assert _count(sessions, FeedbackRow) == 0


def test_frequent_questions_are_normalized_and_ranked(chat: ChatRepository) -> None:
    session = chat.create_session(None, "")
    asked = [
        "How do I ingest?",
        "how do I  ingest?",
        " HOW DO I INGEST? ",
        "What is a chunk?",
        "what is a chunk?",
        "Zebra?",
    ]
    for question in asked:
        chat.add_message(session.id, "user", question)
    chat.add_message(session.id, "assistant", "how do i ingest?")  # answers do not count
    assert chat.frequent_questions(10) == [
        ("how do i ingest?", 3),
        ("what is a chunk?", 2),
        ("zebra?", 1),
    ]
    assert chat.frequent_questions(1) == [("how do i ingest?", 3)]
    assert chat.frequent_questions(0) == []


def test_add_exchange_stores_a_question_and_answer_in_one_go(
    chat: ChatRepository, sessions: sessionmaker[Session]
) -> None:
    session_id, answer_id = chat.add_exchange(
        None,
        "anon:abc",
        "  How   is the lens cleaned?  ",
        "With a soft cloth [1].",
        citations=[{"n": 1, "source": "lighthouse.md"}],
        grounded=True,
        latency_ms=3.5,
        generator="extractive",
    )
    made = chat.get_session(session_id)
    assert made is not None and (made.owner, made.title) == ("anon:abc", "How is the lens cleaned?")
    again, second_id = chat.add_exchange(session_id, "anon:abc", "And the lamp?", "Daily.")
    assert again == session_id
    messages = chat.list_messages(session_id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "  How   is the lens cleaned?  "),
        ("assistant", "With a soft cloth [1]."),
        ("user", "And the lamp?"),
        ("assistant", "Daily."),
    ]
    assert [m.id for m in messages if m.role == "assistant"] == [answer_id, second_id]
    first_answer = messages[1]
    assert first_answer.citations == [{"n": 1, "source": "lighthouse.md"}]
    assert (first_answer.grounded, first_answer.latency_ms) == (True, 3.5)
    assert first_answer.generator == "extractive"
    after = chat.get_session(session_id)
    assert after is not None and after.updated_at >= messages[-1].created_at
    assert chat.get_session(session_id).title == made.title  # type: ignore[union-attr]
    before = _count(sessions, MessageRow)
    with pytest.raises(SessionNotFound):
        chat.add_exchange("no-such-session", None, "q", "a")
    assert _count(sessions, MessageRow) == before  # nothing half-written


def test_sqlite_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    """The write lock holds across processes (flock), so writers queue instead of napping."""
    import subprocess
    import sys
    import time

    from rag_chatbot.config import Settings
    from rag_chatbot.db.engine import create_db_engine, write_lock

    database = tmp_path / "chat.db"
    holder = (
        "import sys, time\n"
        "from rag_chatbot.config import Settings\n"
        "from rag_chatbot.db.engine import create_db_engine, write_lock\n"
        "engine = create_db_engine(Settings(database_url=sys.argv[1], environment='development'))\n"
        "with write_lock(engine):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(1.0)\n"
    )
    url = f"sqlite:///{database}"
    process = subprocess.Popen(
        [sys.executable, "-c", holder, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        engine = create_db_engine(Settings(database_url=url, environment="development"))  # type: ignore[call-arg]
        started = time.monotonic()
        with write_lock(engine):
            waited = time.monotonic() - started
        assert waited > 0.5  # it waited for the other process to let go
        assert (tmp_path / "chat.db.write-lock").exists()
        engine.dispose()
    finally:
        process.wait(timeout=30)
