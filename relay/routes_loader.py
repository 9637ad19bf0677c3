"""Which routes files a process accepts: the loader behind start-up and every hot reload."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import httpx

from deliverers.registry import AdapterResources, RecipientConfigError, build_deliverer
from relay.settings import Settings
from router.check import served_findings, unserved
from router.registry import default_registry
from router.routes import RoutesFileError, RouteTable, routes_from_bytes

log = logging.getLogger(__name__)


class CheckOnlyMailbox:
    """The mailbox given to adapters built only to check a routes file: they never send."""

    def send(self, queue: str, body: bytes, headers: Mapping[str, str], ttl_seconds: int) -> None:
        raise RuntimeError("an adapter built to check the routes file cannot send")


def usable_routes(
    path: Path, content: bytes, settings: Settings, *, read_secrets: bool = True
) -> RouteTable:
    """A table this process can deliver with: valid, secrets set, every adapter builds.

    Raises `RoutesFileError` naming every problem. Served numbers that do not exist today
    and municipalities without a recipient do not make a file unusable (their reports are
    HELD with the reason); `relay routes check` lists them. `read_secrets=False` checks
    everything but whether each named secret is present (in this environment, its file).
    """
    table = routes_from_bytes(path, content, read_secrets=read_secrets)
    problems = []
    with httpx.Client() as client:  # adapters are built to be checked, never used
        resources = AdapterResources(
            http=client,
            mailbox=CheckOnlyMailbox,
            relay_konto=settings.fiksio_konto,
            fiksio_ttl_seconds=settings.fiksio_ttl_seconds,
        )
        for recipient in table.recipients.values():
            try:
                build_deliverer(recipient, resources)
            except RecipientConfigError as error:
                problems.append(str(error))
    if problems:
        raise RoutesFileError("\n  ".join([f"{path}: the routes file cannot be used", *problems]))
    return table


def checked_routes(path: Path, content: bytes, *, settings: Settings) -> RouteTable:
    """`usable_routes`, with what `relay routes check` would find logged as warnings."""
    table = usable_routes(path, content, settings)
    registry = default_registry()
    for finding in served_findings(list(table.recipients.values()), registry):
        log.warning("routes file %s: %s", path, finding.message)
    if gaps := unserved(table.by_served, registry):
        log.warning(
            "routes file %s: %d municipalities or bydeler have no recipient (their reports"
            " are HELD); `relay routes check` lists them",
            path,
            len(gaps),
        )
    return table
