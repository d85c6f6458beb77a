"""Sessions, their messages, and feedback on answers — each caller sees only their own.

A session of someone else is answered exactly like one that does not exist (404), so ids
cannot be probed: ``ChatRepository.owned_session`` and ``owned_message`` decide.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from rag_chatbot.api.schemas import FeedbackOut, FeedbackRequest, MessageOut, SessionOut
from rag_chatbot.api.security import OwnerDep
from rag_chatbot.dependencies import ChatsDep
from rag_chatbot.errors import SessionNotFound

router = APIRouter(prefix="/api", tags=["sessions"])


@router.get("/sessions", response_model=list[SessionOut])
def list_sessions(
    chats: ChatsDep,
    caller: OwnerDep,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[SessionOut]:
    """The caller's sessions, most recently active first."""
    rows = chats.list_sessions(caller.owner, limit=limit, offset=offset)
    return [SessionOut.model_validate(row) for row in rows]


@router.get("/sessions/{session_id}", response_model=SessionOut)
def get_session(session_id: str, chats: ChatsDep, caller: OwnerDep) -> SessionOut:
    return SessionOut.model_validate(chats.owned_session(session_id, caller.owner))


@router.get("/sessions/{session_id}/messages", response_model=list[MessageOut])
def list_messages(
    session_id: str,
    chats: ChatsDep,
    caller: OwnerDep,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[MessageOut]:
    """The session's questions and answers, oldest first."""
    chats.owned_session(session_id, caller.owner)
    rows = chats.list_messages(session_id, limit=limit, offset=offset)
    return [MessageOut.model_validate(row) for row in rows]


@router.delete("/sessions/{session_id}", status_code=204)
def delete_session(session_id: str, chats: ChatsDep, caller: OwnerDep) -> Response:
    """Delete a session with its messages and their feedback."""
    chats.owned_session(session_id, caller.owner)
    if not chats.delete_session(session_id):
        raise SessionNotFound(f"session {session_id} not found")
    return Response(status_code=204)


@router.post("/messages/{message_id}/feedback", response_model=FeedbackOut)
def feedback(
    message_id: str, body: FeedbackRequest, chats: ChatsDep, caller: OwnerDep
) -> FeedbackOut:
    """Rate an answer +1 or -1 (again to change the rating)."""
    chats.owned_message(message_id, caller.owner)
    return FeedbackOut.model_validate(chats.set_feedback(message_id, body.rating, body.comment))
