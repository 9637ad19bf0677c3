"""The intake API served by a real uvicorn server on 127.0.0.1, in a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text

from intake.api import IntakeConfig, create_intake_app
from ledger.uow import UnitOfWork
from relay.servers import ServerThread, bind

TOKEN = "t" * 40
OTHER_TOKEN = "o" * 40
TOKENS = {TOKEN: "portal", OTHER_TOKEN: "other-portal"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def intake_config(engine: Engine, **overrides: Any) -> IntakeConfig:
    values: dict[str, Any] = {
        "uow_factory": lambda: UnitOfWork(engine),
        "tokens": TOKENS,
        "max_body_bytes": 5 * 1024 * 1024,
    }
    values.update(overrides)
    return IntakeConfig(**values)


@contextmanager
def serving(config: IntakeConfig, port: int = 0) -> Iterator[str]:
    """The base URL of a running intake API for `config`."""
    sock = bind(port=port)
    server = ServerThread(create_intake_app(config), sock).start()
    try:
        yield server.url
    finally:
        server.stop()
        sock.close()


def count_reports(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM reports")).scalar_one())
