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
from deliverers.breaker import BreakerPolicy
from deliverers.control import DeliveryControl
from deliverers.fiks_io import KombuMailbox
from deliverers.registry import AdapterResources, build_deliverer
from deliverers.retry import RetryPolicy
from ledger.clock import utc_now
from ledger.database import create_ledger_engine, is_sqlite
from ledger.lifecycle import State
from ledger.migrate import upgrade
from ledger.uow import UnitOfWork
from relay.broker import broker_connection
from relay.settings import Settings
from router.routes import DeliveryOverrides, RoutesFileError, RouteTable, load_routes
from router.stage import ROUTER, route_report

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
    _mailbox: KombuMailbox | None = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @property
    def routes(self) -> RouteTable:
        if self._routes is None:
            self._routes = read_routes(self.settings.routes_file)
        return self._routes

    def route(
        self,
        report_id: str,
        *,
        from_states: frozenset[State] = frozenset({State.RECEIVED}),
        actor: str = ROUTER,
        reason: str | None = None,
    ) -> State | None:
        """Route (or re-route) one report with the routes in force now."""
        return route_report(
            self.uow(),
            self.routes,
            report_id,
            self.now,
            from_states=from_states,
            actor=actor,
            reason=reason,
        )

    def deliverer_for(self, recipient_id: str) -> Deliverer | None:
        recipient = self.routes.recipients.get(recipient_id)
        if recipient is None:
            return None
        if recipient_id not in self._deliverers:
            self._deliverers[recipient_id] = build_deliverer(recipient, self.adapter_resources())
        return self._deliverers[recipient_id]

    def mailbox(self) -> KombuMailbox:
        if self._mailbox is None:
            settings = self.settings
            self._mailbox = KombuMailbox(
                broker_connection(settings.broker_url, settings.broker_key_prefix)
            )
        return self._mailbox

    def adapter_resources(self) -> AdapterResources:
        return AdapterResources(
            http=self.http,
            mailbox=self.mailbox,
            relay_konto=self.settings.fiksio_konto,
            fiksio_ttl_seconds=self.settings.fiksio_ttl_seconds,
        )

    def overdue_after(self, recipient_id: str | None) -> float:
        recipient = self.routes.recipients.get(recipient_id) if recipient_id else None
        override = recipient.delivery.overdue_after_seconds if recipient else None
        return override or self.settings.overdue_after_seconds

    def receipt_mode_for(self, recipient_id: str) -> str:
        recipient = self.routes.recipients.get(recipient_id)
        return recipient.receipt if recipient else "strict"

    def control_for(self, recipient_id: str) -> DeliveryControl:
        """The settings' delivery pacing, with the recipient's overrides from the routes file."""
        recipient = self.routes.recipients.get(recipient_id)
        return delivery_control(self.settings, recipient.delivery if recipient else None)

    def check_routes(self) -> None:
        """Load the routes and build every recipient's adapter, so mistakes stop the start."""
        for recipient in self.routes.recipients.values():
            self._deliverers[recipient.id] = build_deliverer(recipient, self.adapter_resources())

    def close(self) -> None:
        if self._mailbox is not None:
            self._mailbox.close()
        self.http.close()
        self.engine.dispose()


def delivery_control(settings: Settings, overrides: DeliveryOverrides | None) -> DeliveryControl:
    overrides = overrides or DeliveryOverrides()
    retry, breaker = overrides.retry, overrides.breaker

    def pick(value: float | None, default: float) -> float:
        return default if value is None else value

    return DeliveryControl(
        policy=RetryPolicy(
            base_seconds=pick(retry.base_seconds, settings.retry_base_seconds),
            cap_seconds=pick(retry.cap_seconds, settings.retry_cap_seconds),
            max_attempts=int(pick(retry.max_attempts, settings.retry_max_attempts)),
            max_age_seconds=pick(retry.max_age_seconds, settings.retry_max_age_seconds),
        ),
        breaker=BreakerPolicy(
            failures_to_open=int(pick(breaker.failures, settings.breaker_failures)),
            open_seconds=pick(breaker.open_seconds, settings.breaker_open_seconds),
            probe_lease_seconds=settings.delivery_lease_seconds,
        ),
        max_concurrent=int(pick(overrides.max_concurrent, settings.max_concurrent_per_recipient)),
        lease_seconds=settings.delivery_lease_seconds,
        receipt_deadline_seconds=pick(
            overrides.receipt_deadline_seconds, settings.receipt_deadline_seconds
        ),
    )


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
