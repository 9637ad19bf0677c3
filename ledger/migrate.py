"""Schema migrations with Alembic, run programmatically (`relay db upgrade`)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@functools.cache
def head_revision() -> str:
    """The revision this code's schema is at: the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations"
    return head


@functools.cache
def _revisions() -> frozenset[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def known_revision(revision: str) -> bool:
    """Whether this code has a migration of that name (a newer relay may have gone further)."""
    return revision in _revisions()


def upgrade(engine: Engine, revision: str = "head", *, quiet: bool = False) -> None:
    """Migrate to `revision`. `quiet`: Alembic's own log lines are left out (a process that
    migrates its embedded ledger as it starts logs one line of its own when it did)."""
    before = current_revision(engine)
    if revision == "head" and before == head_revision():
        return
    with _alembic_quiet(quiet):
        command.upgrade(alembic_config(engine), revision)
    if quiet:
        after = head_revision() if revision == "head" else revision
        log.info("ledger schema migrated from %s to %s", before or "nothing", after)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with _alembic_quiet(True), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _alembic_quiet(quiet: bool) -> Iterator[None]:
    logger = logging.getLogger("alembic")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
