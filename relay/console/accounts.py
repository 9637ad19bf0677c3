"""Console accounts and sessions: adding and removing operators, logging in (with a lockout
after failed attempts), finding the session a cookie names, logging out.

A session lasts at most `SessionPolicy.lifetime_seconds` from login and ends sooner when
unused for `idle_seconds`. A login starts a fresh session (a new token and CSRF token), so
a token planted before it is worth nothing. The cookie holds the token; the ledger holds
its SHA-256.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ledger.console import ConsoleSession, ConsoleUser
from ledger.digest import sha256_hex
from ledger.uow import UnitOfWork
from relay.console.passwords import check_new_password, hash_password, verify_password, waste_time

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SEEN_EVERY = timedelta(seconds=30)  # how often a session's last use is written
HASHING = threading.BoundedSemaphore(2)  # scrypt checks at once: bounds a flood's memory


class Role(StrEnum):
    VIEWER = "viewer"  # sees every page
    OPERATOR = "operator"  # and acts: redrive, resolve, reroute


class AccountError(Exception):
    """An account cannot be added or changed; the message says why, in one line."""


@dataclass(frozen=True)
class SessionPolicy:
    lifetime_seconds: float = 8 * 3600
    idle_seconds: float = 30 * 60
    lock_after: int = 5  # failed logins in a row
    lock_seconds: float = 60  # then doubling with each failure, up to lock_max_seconds
    lock_max_seconds: float = 15 * 60

    def locked_until(self, failures: int, now: datetime) -> datetime | None:
        if failures < self.lock_after:
            return None
        seconds = min(self.lock_seconds * 2 ** (failures - self.lock_after), self.lock_max_seconds)
        return now + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Operator:
    """Who a valid session belongs to."""

    name: str
    role: Role
    csrf_token: str
    session: str  # the session's token's SHA-256

    @property
    def can_act(self) -> bool:
        return self.role is Role.OPERATOR

    @property
    def actor(self) -> str:
        return f"operator:{self.name}"


UowFactory = Callable[[], UnitOfWork]


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise AccountError(
            f"{name!r} cannot be a console user's name: use 1-64 lowercase letters, digits,"
            " '.', '_' or '-', beginning with a letter or digit"
        )


def add_user(
    uow_factory: UowFactory,
    name: str,
    role: Role,
    password: str,
    now: datetime,
    *,
    replace: bool = False,
) -> bool:
    """Add an account (or, with `replace`, set an existing one's role and password and end
    its sessions); True if it was new. Raises `AccountError`."""
    check_name(name)
    try:
        check_new_password(password)
    except ValueError as error:
        raise AccountError(str(error)) from None
    user = ConsoleUser(name, role.value, hash_password(password), now, now)
    with uow_factory() as uow:
        existing = uow.console.user(name, lock=True)
        if existing is not None and not replace:
            raise AccountError(f"console user {name} exists (--replace sets a new password)")
        if existing is None:
            uow.console.add_user(user)
        else:
            uow.console.replace_user(user)
            uow.console.end_sessions_of(name)
        uow.commit()
    return existing is None


def remove_user(uow_factory: UowFactory, name: str) -> bool:
    with uow_factory() as uow:
        removed = uow.console.remove_user(name)
        uow.commit()
    return removed


def users(uow_factory: UowFactory, now: datetime) -> list[tuple[ConsoleUser, int]]:
    """Every account with its number of sessions not yet past their lifetime."""
    with uow_factory() as uow:
        sessions = uow.console.open_sessions(now)
        return [(user, sessions.get(user.name, 0)) for user in uow.console.users()]


def log_in(
    uow_factory: UowFactory, name: str, password: str, now: datetime, policy: SessionPolicy
) -> tuple[str, Operator] | None:
    """A new session's token and operator, or None: a wrong name or password, or an
    account locked after failed logins (all three look the same to the caller)."""
    with uow_factory() as uow:
        user = uow.console.user(name) if NAME.match(name) else None
    with HASHING:
        if user is None or (user.locked_until is not None and now < user.locked_until):
            waste_time(password)
            return None
        right = verify_password(password, user.password_hash)
    with uow_factory() as uow:
        if not right:
            failures = user.failed_logins + 1
            uow.console.login_failed(name, failures, policy.locked_until(failures, now))
            uow.commit()
            return None
        uow.console.forget_sessions(now, now - timedelta(seconds=policy.idle_seconds))
        token = secrets.token_urlsafe(32)
        session = ConsoleSession(
            token_sha256=sha256_hex(token.encode("ascii")),
            user_name=name,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            seen_at=now,
            expires_at=now + timedelta(seconds=policy.lifetime_seconds),
        )
        uow.console.add_session(session)
        uow.console.logged_in(name, now)
        uow.commit()
    return token, Operator(name, Role(user.role), session.csrf_token, session.token_sha256)


def session_for(
    uow_factory: UowFactory, token: str, now: datetime, policy: SessionPolicy
) -> Operator | None:
    """The operator whose valid session `token` names; None if none (or it has expired)."""
    if not token or len(token) > 200:
        return None
    digest = sha256_hex(token.encode("utf-8", "replace"))
    with uow_factory() as uow:
        found = uow.console.session(digest)
        if found is None:
            return None
        session, user = found
        idle_since = now - timedelta(seconds=policy.idle_seconds)
        if now >= session.expires_at or session.seen_at <= idle_since:
            uow.console.end_session(digest)
            uow.commit()
            return None
        if now - session.seen_at >= SEEN_EVERY:
            uow.console.seen(digest, now)
            uow.commit()
    return Operator(user.name, Role(user.role), session.csrf_token, digest)


def log_out(uow_factory: UowFactory, operator: Operator) -> None:
    with uow_factory() as uow:
        uow.console.end_session(operator.session)
        uow.commit()
