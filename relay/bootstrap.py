"""Building the running system from settings. Nothing here runs at import time."""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from pydantic import ValidationError
from sqlalchemy import Engine

from deliverers.base import Deliverer
from deliverers.breaker import BreakerPolicy
from deliverers.control import DeliveryControl
from deliverers.fiks_io import KombuMailbox
from deliverers.registry import AdapterResources, build_deliverer
from deliverers.release import RoomsAtRouting, room_at_routing
from deliverers.retry import RetryPolicy
from deliverers.stage import OTHERS_WAIT_SECONDS
from ledger.alerts import OverdueLimits
from ledger.checkpoint import CheckpointError
from ledger.clock import utc_now
from ledger.content_crypto import KeyRing, KeyRingError
from ledger.database import create_ledger_engine, is_sqlite
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from relay.broker import broker_connection
from relay.content_keys import check_against_ledger, content_key_ring, default_key_source
from relay.preflight import StartupError as StartupError
from relay.preflight import require_ledger
from relay.routes_loader import checked_routes
from relay.settings import Settings
from router.live import LiveRoutes, RoutesInForce
from router.routes import (
    DeliveryOverrides,
    ReceiptMode,
    Recipient,
    RoutesFileError,
    RouteTable,
)
from router.stage import ROUTER, route_report, route_while_full

log = logging.getLogger(__name__)

# How many RECEIVED reports a route task routes after its own (in turn): each is one
# short transaction, while its own queued message costs a task; bounded, so that one task
# never holds its worker long.
ROUTE_ALONG = 16
# ... and a task that routed a full batch routes the next, for up to this long.
ROUTE_ON_SECONDS = 1.0
# The outbox relay sends route messages of reports still RECEIVED at least this far apart
# (`ledger.outbox.RouteGate`): the task of one routes those received meanwhile along.
ROUTE_MESSAGE_GAP_SECONDS = 0.1


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "RELAY_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if problem["loc"] else message)
        raise StartupError("invalid settings: " + "; ".join(lines)) from None


@dataclass
class Container:
    settings: Settings
    engine: Engine
    http: httpx.Client
    now: Callable[[], datetime] = utc_now
    jitter: Callable[[], float] = random.random
    routes_source: LiveRoutes | None = None
    keys: KeyRing | None = None  # the content key ring; None for metadata-only commands
    # Set after this process commits an outbox row: wakes its outbox relay (relay.background).
    outbox_ready: threading.Event = field(default_factory=threading.Event)
    _deliverers: dict[str, tuple[Recipient, Deliverer]] = field(default_factory=dict)
    _mailbox: KombuMailbox | None = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.keys, on_outbox=self.outbox_ready.set)

    @property
    def live_routes(self) -> LiveRoutes:
        if self.routes_source is None:
            self.routes_source = live_routes(self.settings)
        return self.routes_source

    @property
    def routes(self) -> RouteTable:
        """The routes table in force; a changed routes file is picked up without restart."""
        return self.live_routes.current()

    def routes_in_force(self) -> RoutesInForce | None:
        """The routes table this process uses (looking at the file first, as routing does);
        None while it has loaded none."""
        source = self.routes_source
        return source.in_force() if source is not None else None

    def route(
        self,
        report_id: str,
        *,
        from_states: frozenset[State] = frozenset({State.RECEIVED}),
        actor: str = ROUTER,
        reason: str | None = None,
    ) -> State | None:
        """Route (or re-route) one report with the routes in force now; a HELD report an
        operator asked to route again is routed as they asked, with this table. Then up to
        ROUTE_ALONG RECEIVED reports too, the municipalities taking turns
        (`router.stage.route_received_in_turn`), so that a burst is routed at the ledger's
        pace, not one queued message at a time, and not in front of everyone else. While
        they make a full batch, the next ROUTE_ALONG, for up to ROUTE_ON_SECONDS, until a
        delivery has waited a moment for a worker (`deliverers.stage.OTHERS_WAIT_SECONDS`)."""
        table = self.routes
        routed = route_report(
            self.uow(),
            table,
            report_id,
            self.now,
            from_states=from_states,
            actor=actor,
            reason=reason,
            act_on_requests=True,
            admission=self.room_at_routing,
        )
        route_while_full(
            self.uow,
            table,
            self.now,
            limit=ROUTE_ALONG,
            admission_for=lambda: RoomsAtRouting(self.control_for),
            until=time.monotonic() + ROUTE_ON_SECONDS,
            clock=time.monotonic,
            stop=self._delivery_waits,
        )
        return routed

    def _delivery_waits(self) -> bool:
        since = self.now() - timedelta(seconds=OTHERS_WAIT_SECONDS)
        with self.uow() as uow:
            waiting = uow.queries.others_waiting(None, since, to_route=False)
            uow.close_read()
            return waiting

    def room_at_routing(self, uow: UnitOfWork, recipient: str, at: datetime) -> str | None:
        """Why a report routed to `recipient` waits in the ledger instead of its vendor's
        queue (`deliverers.release.room_at_routing`), with the recipient's own limit."""
        return room_at_routing(uow, recipient, self.control_for(recipient), at)

    def deliverer_for(self, recipient_id: str) -> Deliverer | None:
        recipient = self.routes.recipients.get(recipient_id)
        if recipient is None:  # routed with a table this process has not looked at yet?
            recipient = self.live_routes.current(force=True).recipients.get(recipient_id)
        if recipient is None:
            return None
        cached = self._deliverers.get(recipient_id)
        if cached is None or cached[0] != recipient:  # new, or its entry changed
            cached = (recipient, build_deliverer(recipient, self.adapter_resources()))
            self._deliverers[recipient_id] = cached
        return cached[1]

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

    def overdue_limits(self) -> OverdueLimits:
        """RELAY_OVERDUE_AFTER_SECONDS, with the recipients' overrides from the routes file."""
        recipients = self.routes.recipients.values()
        return OverdueLimits(
            default_seconds=self.settings.overdue_after_seconds,
            by_recipient={
                r.id: r.delivery.overdue_after_seconds
                for r in recipients
                if r.delivery.overdue_after_seconds
            },
            unverifiable=self.unverifiable(),
        )

    def receipt_mode_for(self, recipient_id: str) -> ReceiptMode:
        recipient = self.routes.recipients.get(recipient_id)
        return recipient.receipt if recipient else ReceiptMode.STRICT

    def unverifiable(self) -> frozenset[str]:
        """Recipients whose deliveries cannot be read back (legacy receipts): they stay
        DELIVERED; the read-back lane and the overdue alert leave them out."""
        recipients = self.routes.recipients.values()
        return frozenset(r.id for r in recipients if r.receipt is ReceiptMode.LEGACY)

    def control_for(self, recipient_id: str) -> DeliveryControl:
        """The settings' delivery pacing, with the recipient's overrides from the routes file."""
        recipient = self.routes.recipients.get(recipient_id)
        return delivery_control(self.settings, recipient.delivery if recipient else None)

    def check_routes(self) -> None:
        """Load and check the routes as every reload does, so that mistakes stop the start."""
        self.live_routes.current()

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
        follow_on_seconds=settings.delivery_follow_on_seconds,
    )


def live_routes(settings: Settings) -> LiveRoutes:
    """The routes file, loaded and checked now, and watched for changes from then on."""
    path = settings.routes_file
    if path is None:
        raise StartupError("RELAY_ROUTES_FILE is not set: the router needs a routes file")
    try:
        return LiveRoutes(path, functools.partial(checked_routes, settings=settings))
    except RoutesFileError as error:
        raise StartupError(str(error)) from None


def key_ring(settings: Settings) -> KeyRing:
    """The content key ring from the settings (a missing or malformed key stops here)."""
    try:
        return content_key_ring(settings)
    except KeyRingError as error:
        raise StartupError(str(error)) from None


def check_key_ring(settings: Settings, engine: Engine, ring: KeyRing) -> None:
    """The ring must be the one the ledger's content was sealed with."""
    try:
        check_against_ledger(engine, ring, utc_now, source=default_key_source(settings))
    except (KeyRingError, CheckpointError) as error:
        raise StartupError(str(error)) from None


def bootstrap(
    settings: Settings,
    *,
    migrate: bool | None = None,
    routes: LiveRoutes | None = None,
    content: bool = True,
    check: bool = True,
    pre_ping: bool = True,
) -> Container:
    """Engine, content key ring (unless `content` is False: metadata only), HTTP client and
    (lazily, unless given) routes. Embedded migrates itself. `check`: the ledger must answer
    at the head revision (`relay.preflight`); a worker's pool process, whose parent checked,
    skips it, so that a database that is down for a moment is retried like any other time.
    `pre_ping=False`: pooled connections are not checked before each transaction (`relay
    api`, whose intake tries once more on a connection found dead)."""
    keys = key_ring(settings) if content else None
    engine = create_ledger_engine(settings.database_url, pre_ping=pre_ping)
    try:
        if check or migrate:
            require_ledger(
                engine, migrate=migrate if migrate is not None else is_sqlite(settings.database_url)
            )
        if keys is not None:
            check_key_ring(settings, engine, keys)
    except BaseException:
        engine.dispose()
        raise
    log.debug("bootstrapped in process %s", os.getpid())
    return Container(
        settings=settings,
        engine=engine,
        http=httpx.Client(follow_redirects=False),
        routes_source=routes,
        keys=keys,
    )
