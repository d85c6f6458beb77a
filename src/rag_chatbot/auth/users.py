"""UserRepository: accounts in the relational database, passwords hashed with argon2.

User names are compared case-insensitively (stored lower-case). Passwords are checked in
constant time, and an unknown name costs as much as a wrong password, so timing does not
tell which names exist.

A role change, a password change and a deletion each end the account's logins: the first two
raise ``token_version`` (tokens carry the version they were issued under), and a deleted
account has no version at all. ``token_state`` is what the token check reads.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rag_chatbot.db.models import UserRow, utcnow
from rag_chatbot.errors import InvalidInput

Role = Literal["reader", "admin"]
ROLES: tuple[Role, ...] = ("reader", "admin")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256  # argon2 hashes anything; this bounds the work per request
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{2,63}$")


class UsernameTaken(InvalidInput):
    """Registering a name that exists."""


class UserRepository:
    """Creates accounts and checks passwords. Rows come back detached."""

    def __init__(self, sessions: sessionmaker[Session], hasher: PasswordHasher | None = None):
        self._sessions = sessions
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash("not a real password, for timing only")

    @staticmethod
    def normalize(username: str) -> str:
        name = username.strip().lower()
        if not _USERNAME.match(name):
            raise InvalidInput(
                "username must be 3-64 characters: letters, digits and _ . @ -, "
                "starting with a letter or digit"
            )
        return name

    @staticmethod
    def check_password(password: str) -> None:
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise InvalidInput(
                f"password must be {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters"
            )

    def create(self, username: str, password: str, role: Role = "reader") -> UserRow:
        """A new account; ``UsernameTaken`` if the name exists, ``InvalidInput`` if unfit."""
        name = self.normalize(username)
        self.check_password(password)
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {list(ROLES)}")
        now = utcnow()
        row = UserRow(
            id=str(uuid.uuid4()),
            username=name,
            password_hash=self._hasher.hash(password),
            role=role,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise UsernameTaken(f"username {name!r} is taken") from exc
        return row

    def authenticate(self, username: str, password: str) -> UserRow | None:
        """The account if ``password`` is right, else ``None`` (same cost either way)."""
        try:
            name = self.normalize(username)
        except InvalidInput:
            name = ""
        row = self.get_by_name(name) if name else None
        try:
            self._hasher.verify(row.password_hash if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return row

    def get(self, user_id: str) -> UserRow | None:
        with self._sessions() as session:
            return session.get(UserRow, user_id)

    def get_by_name(self, username: str) -> UserRow | None:
        with self._sessions() as session:
            return session.scalar(select(UserRow).where(UserRow.username == username.lower()))

    def token_state(self, user_id: str) -> tuple[Role, int] | None:
        """The account's current role and token version; ``None`` once it is deleted.

        One primary-key read of two columns: it runs for every request with an access token.
        """
        with self._sessions() as session:
            found = session.execute(
                select(UserRow.role, UserRow.token_version).where(UserRow.id == user_id)
            ).first()
        if found is None or found.role not in ROLES:
            return None
        role: Role = "admin" if found.role == "admin" else "reader"
        return role, int(found.token_version)

    def set_role(self, username: str, role: Role) -> UserRow:
        """Change the role and end the account's logins (their tokens name the old role)."""
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {list(ROLES)}")
        return self._change(username, role=role)

    def set_password(self, username: str, password: str) -> UserRow:
        """Set a new password and end every login made with the old one."""
        self.check_password(password)
        return self._change(username, password_hash=self._hasher.hash(password))

    def delete(self, username: str) -> str:
        """Remove the account and return its id; ``token_state`` is ``None`` from then on."""
        name = username.strip().lower()
        with self._sessions.begin() as session:
            user_id = session.scalar(select(UserRow.id).where(UserRow.username == name))
            if user_id is None:
                raise InvalidInput(f"no user {username!r}")
            session.execute(delete(UserRow).where(UserRow.id == user_id))
        return user_id

    def _change(self, username: str, **values: object) -> UserRow:
        """Update the account and raise its token version, in one statement."""
        name = username.strip().lower()
        with self._sessions.begin() as session:
            session.execute(
                update(UserRow)
                .where(UserRow.username == name)
                .values(**values, token_version=UserRow.token_version + 1, updated_at=utcnow())
            )
            row = session.scalar(select(UserRow).where(UserRow.username == name))
            if row is None:
                raise InvalidInput(f"no user {username!r}")
            return row

    def count(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(UserRow)) or 0)
