"""What the recipients page shows: the routes in force (this API's table, and the routes
file's SHA-256), which running processes have which table (from their heartbeats), and the
health view (every process's last sign of life). Never a secret: a recipient is shown by
its id, name, vendor, receipt mode, what it serves and its endpoint's scheme and host."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from ledger.digest import sha256_hex
from ledger.heartbeats import PROCESS
from ledger.uow import UnitOfWork
from relay.routes_in_force import alive_within
from router.routes import Recipient, RoutesFileError, RouteTable, read_routes_file


@dataclass(frozen=True)
class RecipientEntry:
    id: str
    name: str
    vendor: str
    receipt: str
    endpoint: str  # scheme and host only
    serves: tuple[str, ...]


@dataclass(frozen=True)
class ProcessRow:
    process: str
    queue: str
    role: str
    host: str
    pid: int
    beat_at: datetime
    age_seconds: float
    alive: bool
    last_message_at: datetime | None
    routes_sha256: str | None
    routes_loaded_at: datetime | None
    same_as_file: bool | None  # None: the file's SHA-256 is not known


@dataclass(frozen=True)
class RoutesView:
    file: str | None
    file_sha256: str | None
    file_problem: str | None
    table_sha256: str | None  # this API's table in force
    table_problem: str | None
    recipients: list[RecipientEntry]
    processes: list[ProcessRow]

    @property
    def differing(self) -> list[ProcessRow]:
        return [p for p in self.processes if p.alive and p.routes_sha256 and not p.same_as_file]


def entry(recipient: Recipient) -> RecipientEntry:
    parts = urlsplit(recipient.endpoint)
    host = parts.hostname or ""
    endpoint = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    return RecipientEntry(
        recipient.id,
        recipient.name,
        recipient.vendor,
        recipient.receipt.value,
        endpoint,
        recipient.serves,
    )


def routes_view(
    uow_factory: Callable[[], UnitOfWork],
    now: datetime,
    heartbeat_seconds: float,
    routes_file: Path | None,
    table: Callable[[], RouteTable],
) -> RoutesView:
    """`table` gives this API's table in force; it raises (with a message for people) when
    there is none."""
    file_sha256 = file_problem = table_problem = None
    if routes_file is None:
        file_problem = "RELAY_ROUTES_FILE is not set for this API"
    else:
        try:
            file_sha256 = sha256_hex(read_routes_file(routes_file))
        except RoutesFileError as error:
            file_problem = str(error)
    recipients: list[RecipientEntry] = []
    table_sha256 = None
    try:
        in_force = table()
        table_sha256 = in_force.sha256 or None
        recipients = [entry(r) for r in sorted(in_force.recipients.values(), key=_id)]
    except Exception as error:  # StartupError or RoutesFileError: shown, not raised
        table_problem = str(error).splitlines()[0]
    with uow_factory() as uow:
        beats = uow.heartbeats.all()
    limit = alive_within(heartbeat_seconds)
    processes = []
    for beat in beats:
        age = (now - beat.beat_at).total_seconds()
        same = None
        if file_sha256 is not None and beat.routes_sha256:
            same = beat.routes_sha256 == file_sha256
        processes.append(
            ProcessRow(
                process=beat.process_id,
                queue=beat.queue if beat.queue != PROCESS else "",
                role=beat.role,
                host=beat.hostname,
                pid=beat.pid,
                beat_at=beat.beat_at,
                age_seconds=round(age, 1),
                alive=age <= limit,
                last_message_at=beat.consumed_at,
                routes_sha256=beat.routes_sha256,
                routes_loaded_at=beat.routes_loaded_at,
                same_as_file=same,
            )
        )
    file = str(routes_file) if routes_file else None
    return RoutesView(
        file, file_sha256, file_problem, table_sha256, table_problem, recipients, processes
    )


def _id(recipient: Recipient) -> str:
    return recipient.id
