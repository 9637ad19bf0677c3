"""Which adapter speaks each vendor's protocol. Adding a vendor is one module and one entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from deliverers.base import Deliverer
from deliverers.fiks_io import FiksIoDeliverer, Mailbox, konto_from_endpoint, konto_queue
from deliverers.rest_json import RestJsonDeliverer
from router.routes import Recipient


class RecipientConfigError(Exception):
    """A recipient in the routes file that its vendor's adapter cannot use."""


@dataclass(frozen=True)
class AdapterResources:
    """What adapters share: the HTTP client, the broker mailbox, our own fiks-io konto."""

    http: httpx.Client
    mailbox: Callable[[], Mailbox]  # made on first use: only fiks-io needs a broker connection
    relay_konto: str
    fiksio_ttl_seconds: int


def _rest_json(recipient: Recipient, resources: AdapterResources) -> Deliverer:
    if not recipient.secret:
        raise RecipientConfigError(
            f"recipient {recipient.id}: vendor rest-json needs secret_env or secret_file"
            " (the signing secret)"
        )
    if not recipient.endpoint.startswith(("http://", "https://")):
        raise RecipientConfigError(
            f"recipient {recipient.id}: endpoint must be an http(s) URL for vendor rest-json"
        )
    if recipient.previous_secret and not recipient.secret:
        raise RecipientConfigError(
            f"recipient {recipient.id}: previous_secret_env/_file needs secret_env/_file"
            " (the new secret)"
        )
    return RestJsonDeliverer(
        recipient.endpoint,
        recipient.secret,
        client=resources.http,
        token=recipient.token,
        previous_secret=recipient.previous_secret,
    )


def _fiks_io(recipient: Recipient, resources: AdapterResources) -> Deliverer:
    try:
        konto = konto_from_endpoint(recipient.endpoint)
    except ValueError as error:
        raise RecipientConfigError(f"recipient {recipient.id}: {error}") from None
    return FiksIoDeliverer(
        konto,
        mailbox=resources.mailbox(),
        reply_to=konto_queue(resources.relay_konto),
        ttl_seconds=resources.fiksio_ttl_seconds,
    )


VENDORS: dict[str, Callable[[Recipient, AdapterResources], Deliverer]] = {
    "rest-json": _rest_json,
    "fiks-io": _fiks_io,
}


def build_deliverer(recipient: Recipient, resources: AdapterResources) -> Deliverer:
    factory = VENDORS.get(recipient.vendor)
    if factory is None:
        known = ", ".join(sorted(VENDORS))
        raise RecipientConfigError(
            f"recipient {recipient.id}: unknown vendor {recipient.vendor!r} (known: {known})"
        )
    return factory(recipient, resources)
