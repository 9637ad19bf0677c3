"""Capture the exact statements one intake issues, on the real path: the `relay api`
application (`relay.wiring.intake_app` over `relay.bootstrap`) in this process, one report
POSTed through it, every statement, BEGIN and COMMIT seen by SQLAlchemy's events on the
ledger's own engine. So the replayed limit follows the code when the code changes.

The environment (`RELAY_*`) must already name the ledger, the tokens and the content keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from intake.protocol import example

MELDINGSTYPE = "no.ks.fiks.bekymringsmelding.offentlig.v2"
CAPTURE_KEY = "bench-capture-ffffffffffff"


def request_body() -> dict[str, Any]:
    """The body every benchmark submits: the protocol's example document."""
    return {"meldingstype": MELDINGSTYPE, "bekymringsmelding": example(MELDINGSTYPE)}


@dataclass
class Captured:
    """One intake's steps: "BEGIN", "COMMIT", "ROLLBACK" or (statement, parameters); and the
    values that must be fresh per replay (the report id, the Idempotency-Key)."""

    steps: list[Any] = field(default_factory=list)
    varying: list[str] = field(default_factory=list)


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def capture_intake(env: dict[str, str], token: str) -> Captured:
    """The steps of one accepted report through the real intake application."""
    from relay.bootstrap import bootstrap, load_settings
    from relay.wiring import intake_app

    with _environment(env):
        container = bootstrap(load_settings(), pre_ping=False)  # as `relay api` builds it
        try:
            app = intake_app(container)
            captured = Captured()
            with TestClient(app) as client, _listening(container.engine, captured):
                response = client.post(
                    "/v1/reports",
                    json=request_body(),
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": CAPTURE_KEY},
                )
            if response.status_code != 202:
                raise RuntimeError(f"capturing intake: answered {response.status_code}")
            captured.varying = [response.json()["id"], CAPTURE_KEY]
            return captured
        finally:
            container.engine.dispose()


@contextmanager
def _listening(engine: Engine, captured: Captured) -> Iterator[None]:
    postgres = engine.dialect.name == "postgresql"

    def statement(conn: Any, cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if postgres:
            from psycopg import ClientCursor

            captured.steps.append(ClientCursor(cursor.connection).mogrify(sql, parameters))
        else:
            captured.steps.append((sql, parameters))

    def begin(conn: Any) -> None:
        captured.steps.append("BEGIN")

    def commit(conn: Any) -> None:
        captured.steps.append("COMMIT")

    def rollback(conn: Any) -> None:
        captured.steps.append("ROLLBACK")

    def checkout(*_: Any) -> None:  # the pool's pre-ping (off in `relay api`), a round trip
        captured.steps.append("SELECT 1")

    hooks: list[tuple[Any, str, Any]] = [
        (engine, "before_cursor_execute", statement),
        (engine, "commit", commit),
        (engine, "rollback", rollback),
    ]
    if postgres:  # psycopg begins implicitly; SQLite's BEGIN IMMEDIATE is a statement
        hooks.append((engine, "begin", begin))
    if getattr(engine.pool, "_pre_ping", False):
        hooks.append((engine.pool, "checkout", checkout))
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)
