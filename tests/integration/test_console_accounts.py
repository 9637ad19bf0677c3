"""Console accounts and sessions on real ledgers (SQLite and PostgreSQL): sessions that
expire (unused, and in any case), logins locked after failures, accounts whose change or
removal ends their sessions. And, over HTTP in-process: the cookie's attributes, the
headers on every answer, and a login that never sends anyone to another site."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ledger.alerts import OverdueLimits
from ledger.uow import UnitOfWork
from relay.console.accounts import (
    AccountError,
    Role,
    SessionPolicy,
    add_user,
    log_in,
    log_out,
    remove_user,
    session_for,
    users,
)
from relay.console.app import create_console_app, templates
from relay.console.context import Console
from router.routes import RouteTable
from tests.support.clock import Clock

pytestmark = pytest.mark.integration

PASSWORD = "et langt nok passord"
POLICY = SessionPolicy(lifetime_seconds=8 * 3600, idle_seconds=1800)


@pytest.fixture
def uow(ledger_engine: Engine) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(ledger_engine)


def test_a_session_ends_when_unused_for_too_long(
    uow: Callable[[], UnitOfWork], clock: Clock
) -> None:
    add_user(uow, "kari", Role.OPERATOR, PASSWORD, clock())
    found = log_in(uow, "kari", PASSWORD, clock(), POLICY)
    assert found is not None
    token, operator = found
    assert (operator.name, operator.role, operator.actor) == (
        "kari",
        Role.OPERATOR,
        "operator:kari",
    )
    clock.advance(1799)
    assert session_for(uow, token, clock(), POLICY) == operator
    clock.advance(1799)  # used a moment ago: the idle time starts again
    assert session_for(uow, token, clock(), POLICY) == operator
    clock.advance(1800)
    assert session_for(uow, token, clock(), POLICY) is None
    clock.advance(-1)  # and it is gone, not only refused
    assert session_for(uow, token, clock(), POLICY) is None


def test_a_session_ends_at_its_lifetime_however_much_it_is_used(
    uow: Callable[[], UnitOfWork], clock: Clock
) -> None:
    add_user(uow, "kari", Role.VIEWER, PASSWORD, clock())
    found = log_in(uow, "kari", PASSWORD, clock(), POLICY)
    assert found is not None
    token = found[0]
    for _ in range(int(8 * 3600 / 1200) - 1):
        clock.advance(1200)
        assert session_for(uow, token, clock(), POLICY) is not None
    clock.advance(1200)
    assert session_for(uow, token, clock(), POLICY) is None


def test_logging_out_ends_the_session(uow: Callable[[], UnitOfWork], clock: Clock) -> None:
    add_user(uow, "kari", Role.OPERATOR, PASSWORD, clock())
    found = log_in(uow, "kari", PASSWORD, clock(), POLICY)
    assert found is not None
    log_out(uow, found[1])
    assert session_for(uow, found[0], clock(), POLICY) is None
    assert session_for(uow, "", clock(), POLICY) is None
    assert session_for(uow, "x" * 500, clock(), POLICY) is None


def test_logins_are_locked_after_five_failures_and_open_again_later(
    uow: Callable[[], UnitOfWork], clock: Clock
) -> None:
    add_user(uow, "kari", Role.OPERATOR, PASSWORD, clock())
    for _ in range(5):
        assert log_in(uow, "kari", "not the password", clock(), POLICY) is None
    assert log_in(uow, "kari", PASSWORD, clock(), POLICY) is None  # locked: even the right one
    [(user, _)] = users(uow, clock())
    assert user.failed_logins == 5
    assert user.locked_until is not None
    clock.advance(61)
    assert log_in(uow, "kari", PASSWORD, clock(), POLICY) is not None
    [(user, sessions)] = users(uow, clock())
    assert (user.failed_logins, user.locked_until, sessions) == (0, None, 1)
    assert log_in(uow, "nobody", PASSWORD, clock(), POLICY) is None
    assert log_in(uow, "NOT A NAME", PASSWORD, clock(), POLICY) is None


def test_an_account_replaced_or_removed_loses_its_sessions(
    uow: Callable[[], UnitOfWork], clock: Clock
) -> None:
    assert add_user(uow, "kari", Role.OPERATOR, PASSWORD, clock())
    with pytest.raises(AccountError, match="exists"):
        add_user(uow, "kari", Role.VIEWER, PASSWORD, clock())
    first = log_in(uow, "kari", PASSWORD, clock(), POLICY)
    assert first is not None
    assert not add_user(uow, "kari", Role.VIEWER, "et annet langt passord", clock(), replace=True)
    assert session_for(uow, first[0], clock(), POLICY) is None
    assert log_in(uow, "kari", PASSWORD, clock(), POLICY) is None
    second = log_in(uow, "kari", "et annet langt passord", clock(), POLICY)
    assert second is not None
    assert second[1].role is Role.VIEWER
    assert not second[1].can_act
    assert remove_user(uow, "kari")
    assert session_for(uow, second[0], clock(), POLICY) is None
    assert not remove_user(uow, "kari")


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [("Kari", PASSWORD, "lowercase"), ("kari nordmann", PASSWORD, "lowercase"),
     ("kari", "kort", "at least 12")],
)  # fmt: skip
def test_bad_names_and_passwords_are_refused(
    uow: Callable[[], UnitOfWork], clock: Clock, name: str, password: str, problem: str
) -> None:
    with pytest.raises(AccountError, match=problem):
        add_user(uow, name, Role.VIEWER, password, clock())
    assert users(uow, clock()) == []


def no_routes() -> RouteTable:
    raise RuntimeError("no routes file")


def client(ledger_engine: Engine, clock: Clock, *, secure: bool) -> TestClient:
    console = Console(
        uow=lambda: UnitOfWork(ledger_engine),
        now=clock,
        policy=POLICY,
        secure_cookie=secure,
        templates=templates(),
        routes=no_routes,
        routes_file=None,
        heartbeat_seconds=5,
        overdue_limits=lambda: OverdueLimits(3600),
    )
    app = create_console_app(console)
    return TestClient(app, root_path="/console", follow_redirects=False)


@pytest.mark.parametrize("secure", [False, True])
def test_the_session_cookie_is_http_only_strict_and_secure_when_set(
    ledger_engine: Engine, clock: Clock, secure: bool, tmp_path: Path
) -> None:
    add_user(lambda: UnitOfWork(ledger_engine), "kari", Role.OPERATOR, PASSWORD, clock())
    http = client(ledger_engine, clock, secure=secure)
    form = http.get("/console/login")
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"
    assert form.headers["cache-control"] == "no-store"
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token
    http.cookies.clear()  # over plain HTTP a Secure cookie would not be sent back: send it
    answer = http.post(
        "/console/login",
        data={"login_token": token.group(1), "name": "kari", "password": PASSWORD,
              "next": "//elsewhere.example/"},
        headers={"cookie": f"relay_console_login={token.group(1)}"},
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"  # never to another site
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "relay_console=" in c)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "path=/console" in cookie.lower()
    assert ("secure" in attributes) is secure
