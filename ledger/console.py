"""The operators' console's accounts and sessions, in the caller's transaction.

An account has a role and a password hash (never the password); a session is stored by
the SHA-256 of its token (the cookie holds the token), with its CSRF token and when it
expires. The rules (expiry, lockout after failed logins) are `relay.console.accounts`'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from ledger import schema


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    password_set_at: datetime
    last_login_at: datetime | None = None
    failed_logins: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class ConsoleSession:
    token_sha256: str
    user_name: str
    csrf_token: str
    created_at: datetime
    seen_at: datetime
    expires_at: datetime


class ConsoleStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def user(self, name: str, *, lock: bool = False) -> ConsoleUser | None:
        query = select(schema.console_users).where(schema.console_users.c.name == name)
        row = self._db.execute(query.with_for_update() if lock else query).mappings().first()
        return ConsoleUser(**row) if row else None

    def users(self) -> list[ConsoleUser]:
        rows = self._db.execute(
            select(schema.console_users).order_by(schema.console_users.c.name)
        ).mappings()
        return [ConsoleUser(**row) for row in rows]

    def add_user(self, user: ConsoleUser) -> None:
        self._db.execute(schema.console_users.insert().values(**asdict(user)))

    def replace_user(self, user: ConsoleUser) -> None:
        values = asdict(user)
        name = values.pop("name")
        values.pop("created_at")
        self._db.execute(
            update(schema.console_users).where(schema.console_users.c.name == name).values(**values)
        )

    def remove_user(self, name: str) -> bool:
        self.end_sessions_of(name)
        result = self._db.execute(
            delete(schema.console_users).where(schema.console_users.c.name == name)
        )
        return bool(result.rowcount)

    def login_failed(self, name: str, failures: int, locked_until: datetime | None) -> None:
        self._db.execute(
            update(schema.console_users)
            .where(schema.console_users.c.name == name)
            .values(failed_logins=failures, locked_until=locked_until)
        )

    def logged_in(self, name: str, at: datetime) -> None:
        self._db.execute(
            update(schema.console_users)
            .where(schema.console_users.c.name == name)
            .values(failed_logins=0, locked_until=None, last_login_at=at)
        )

    def add_session(self, session: ConsoleSession) -> None:
        self._db.execute(schema.console_sessions.insert().values(**asdict(session)))

    def session(self, token_sha256: str) -> tuple[ConsoleSession, ConsoleUser] | None:
        """The session and its account (None if either is gone)."""
        s, u = schema.console_sessions, schema.console_users
        row = (
            self._db.execute(
                select(s, u)
                .join(u, u.c.name == s.c.user_name)
                .where(s.c.token_sha256 == token_sha256)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        session = ConsoleSession(**{column.name: row[column] for column in s.c})
        user = ConsoleUser(**{column.name: row[column] for column in u.c})
        return session, user

    def seen(self, token_sha256: str, at: datetime) -> None:
        self._db.execute(
            update(schema.console_sessions)
            .where(schema.console_sessions.c.token_sha256 == token_sha256)
            .values(seen_at=at)
        )

    def end_session(self, token_sha256: str) -> None:
        self._db.execute(
            delete(schema.console_sessions).where(
                schema.console_sessions.c.token_sha256 == token_sha256
            )
        )

    def end_sessions_of(self, name: str) -> int:
        result = self._db.execute(
            delete(schema.console_sessions).where(schema.console_sessions.c.user_name == name)
        )
        return int(result.rowcount)

    def forget_sessions(self, expired_before: datetime, idle_before: datetime) -> int:
        """Sessions that expired, or were idle too long: they can never be used again."""
        s = schema.console_sessions.c
        result = self._db.execute(
            delete(schema.console_sessions).where(
                (s.expires_at <= expired_before) | (s.seen_at <= idle_before)
            )
        )
        return int(result.rowcount)

    def open_sessions(self, now: datetime) -> dict[str, int]:
        """Per account, its sessions not yet past their lifetime."""
        s = schema.console_sessions.c
        rows = self._db.execute(
            select(s.user_name, func.count()).where(s.expires_at > now).group_by(s.user_name)
        )
        return {name: int(count) for name, count in rows}
