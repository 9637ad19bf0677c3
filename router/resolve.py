"""Route resolution, a pure function: a report's numbers and the route table in, a decision out."""

from __future__ import annotations

from dataclasses import dataclass

from router.routes import RouteTable


@dataclass(frozen=True)
class Routed:
    recipient: str
    vendor: str
    kommunenummer: str
    bydelsnummer: str | None  # set only where the route is by bydel


@dataclass(frozen=True)
class Held:
    reason: str


Decision = Routed | Held


def resolve(kommunenummer: str, bydelsnummer: str | None, table: RouteTable) -> Decision:
    """A route for "K-B" wins over one for "K"; a municipality routed by bydel needs one."""
    if bydelsnummer:
        by_bydel = table.recipient_for(f"{kommunenummer}-{bydelsnummer}")
        if by_bydel is not None:
            return Routed(by_bydel.id, by_bydel.vendor, kommunenummer, bydelsnummer)
    whole = table.recipient_for(kommunenummer)
    if whole is not None:
        return Routed(whole.id, whole.vendor, kommunenummer, None)
    if table.routes_by_bydel(kommunenummer):
        if bydelsnummer:
            return Held(f"no recipient serves {kommunenummer} bydel {bydelsnummer}")
        return Held(f"{kommunenummer} is routed by bydel and the report names no bydel")
    return Held(f"no recipient serves {kommunenummer}")
