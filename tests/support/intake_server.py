"""The intake API served by a real uvicorn server on 127.0.0.1, in a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from intake.api import IntakeConfig, create_intake_app
from ledger.database import create_ledger_engine
from ledger.group_commit import GroupCommit
from ledger.migrate import upgrade
from ledger.uow import UnitOfWork
from relay.servers import ServerThread, bind
from tests.support.ledger import TEST_KEYS

TOKEN = "t" * 40
OTHER_TOKEN = "o" * 40
TOKENS = {TOKEN: "portal", OTHER_TOKEN: "other-portal"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def intake_config(engine: Engine, **overrides: Any) -> IntakeConfig:
    def uow_factory() -> UnitOfWork:
        return UnitOfWork(engine, TEST_KEYS)

    values: dict[str, Any] = {
        "uow_factory": uow_factory,
        "tokens": TOKENS,
        "max_body_bytes": 5 * 1024 * 1024,
        # As `relay.wiring.intake_app` does: new reports are written in groups.
        "group_commit": GroupCommit(uow_factory),
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


@contextmanager
def sqlite_ledger(directory: Path) -> Iterator[Engine]:
    """A migrated SQLite ledger in `directory`."""
    engine = create_ledger_engine(f"sqlite:///{directory / 'ledger.sqlite'}")
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def serving_on_sqlite(directory: Path, **overrides: Any) -> Iterator[tuple[Engine, str]]:
    """A running intake API on a fresh SQLite ledger: the ledger and the base URL."""
    with sqlite_ledger(directory) as engine, serving(intake_config(engine, **overrides)) as url:
        yield engine, url
