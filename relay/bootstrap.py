"""Building the running system from settings. Nothing here runs at import time."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from pydantic import ValidationError
from sqlalchemy import Engine

from deliverers.base import Deliverer
from deliverers.registry import build_deliverer
from deliverers.retry import RetryPolicy
from ledger.clock import utc_now
from ledger.database import create_ledger_engine, is_sqlite
from ledger.migrate import upgrade
from ledger.uow import UnitOfWork
from relay.settings import Settings
from router.routes import RoutesFileError, RouteTable, load_routes

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The process cannot start with this configuration; the message says what to fix."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "RELAY_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if problem["loc"] else message)
        raise StartupError("invalid settings:\n  " + "\n  ".join(lines)) from None


@dataclass
class Container:
    settings: Settings
    engine: Engine
    http: httpx.Client
    now: Callable[[], datetime] = utc_now
    jitter: Callable[[], float] = random.random
    _routes: RouteTable | None = None
    _deliverers: dict[str, Deliverer] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @property
    def routes(self) -> RouteTable:
        if self._routes is None:
            self._routes = read_routes(self.settings.routes_file)
        return self._routes

    def deliverer_for(self, recipient_id: str) -> Deliverer | None:
        recipient = self.routes.recipients.get(recipient_id)
        if recipient is None:
            return None
        if recipient_id not in self._deliverers:
            self._deliverers[recipient_id] = build_deliverer(recipient, self.http)
        return self._deliverers[recipient_id]

    def policy_for(self, recipient_id: str) -> RetryPolicy:
        return RetryPolicy(
            base_seconds=self.settings.retry_base_seconds,
            max_attempts=self.settings.retry_max_attempts,
        )

    def check_routes(self) -> None:
        """Load the routes and build every recipient's adapter, so mistakes stop the start."""
        for recipient in self.routes.recipients.values():
            self._deliverers[recipient.id] = build_deliverer(recipient, self.http)

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()


def read_routes(path: Path | None) -> RouteTable:
    if path is None:
        raise StartupError("RELAY_ROUTES_FILE is not set: the router needs a routes file")
    try:
        return load_routes(path)
    except RoutesFileError as error:
        raise StartupError(str(error)) from None


def bootstrap(settings: Settings, *, migrate: bool | None = None) -> Container:
    """Engine, HTTP client and (lazily) routes. The embedded default migrates itself."""
    engine = create_ledger_engine(settings.database_url)
    if migrate if migrate is not None else is_sqlite(settings.database_url):
        upgrade(engine)
    log.debug("bootstrapped in process %s", os.getpid())
    return Container(settings=settings, engine=engine, http=httpx.Client(follow_redirects=False))
