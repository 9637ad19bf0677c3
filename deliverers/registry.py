"""Which adapter speaks each vendor's protocol. Adding a vendor is one module and one entry here."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from deliverers.base import Deliverer
from deliverers.rest_json import RestJsonDeliverer
from router.routes import Recipient


class RecipientConfigError(Exception):
    """A recipient in the routes file that its vendor's adapter cannot use."""


def _rest_json(recipient: Recipient, client: httpx.Client) -> Deliverer:
    if not recipient.secret:
        raise RecipientConfigError(
            f"recipient {recipient.id}: vendor rest-json needs secret_env (the signing secret)"
        )
    if not recipient.endpoint.startswith(("http://", "https://")):
        raise RecipientConfigError(
            f"recipient {recipient.id}: endpoint must be an http(s) URL for vendor rest-json"
        )
    return RestJsonDeliverer(
        recipient.endpoint, recipient.secret, client=client, token=recipient.token
    )


VENDORS: dict[str, Callable[[Recipient, httpx.Client], Deliverer]] = {
    "rest-json": _rest_json,
}


def build_deliverer(recipient: Recipient, client: httpx.Client) -> Deliverer:
    factory = VENDORS.get(recipient.vendor)
    if factory is None:
        known = ", ".join(sorted(VENDORS))
        raise RecipientConfigError(
            f"recipient {recipient.id}: unknown vendor {recipient.vendor!r} (known: {known})"
        )
    return factory(recipient, client)
