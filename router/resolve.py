"""Route resolution, a pure function: a report's numbers, the registry and the routes in,
a decision out. Contract: `docs/routes-file.md`, "Resolution"."""

from __future__ import annotations

from dataclasses import dataclass

from router.registry import UNSPECIFIED_BYDEL, BydelKind, Registry, Split
from router.routes import RouteTable


@dataclass(frozen=True)
class Routed:
    recipient: str
    vendor: str
    kommunenummer: str  # today's number, whatever number the report carried
    bydelsnummer: str | None  # set only where the route is by bydel


@dataclass(frozen=True)
class Held:
    reason: str  # for the operator: what is wrong and what to do


Decision = Routed | Held

# Numbers in Posten's postnummer register that are not municipalities in SSB's Klass 131
# (router/data/COLLECTION.md, Source B): a report may well carry them.
NOT_MUNICIPALITIES = {"2100": "Svalbard", "2211": "Jan Mayen"}


def resolve(
    kommunenummer: str, bydelsnummer: str | None, registry: Registry, table: RouteTable
) -> Decision:
    """Bring the number to today's, then a route for "K-B" wins over one for "K".

    A bydel 99 ("unspecified") counts as no bydel. A split or unknown number, a missing
    route, or a municipality routed by bydel without a route for the report's bydel: HELD.
    """
    found = registry.lookup(kommunenummer)
    if found is None and kommunenummer in NOT_MUNICIPALITIES:
        place = NOT_MUNICIPALITIES[kommunenummer]
        return Held(
            f"kommunenummer {kommunenummer} is {place}, which has a number in Posten's register "
            "but is no municipality; choose the recipient"
        )
    if found is None:
        return Held(f"kommunenummer {kommunenummer} has never existed")
    if isinstance(found, Split):
        return Held(f"{found.describe()}; choose the recipient")
    now = found.kommunenummer
    bydel = bydelsnummer if bydelsnummer and bydelsnummer != UNSPECIFIED_BYDEL else None
    if bydel is not None:
        by_bydel = table.recipient_for(f"{now}-{bydel}")
        if by_bydel is not None:
            return Routed(by_bydel.id, by_bydel.vendor, now, bydel)
    whole = table.recipient_for(now)
    if whole is not None:
        return Routed(whole.id, whole.vendor, now, None)
    reason = _no_route(now, bydelsnummer, registry, table)
    if now != kommunenummer:
        reason += f" (the report's {kommunenummer} is {now} today)"
    return Held(reason)


def _no_route(now: str, bydelsnummer: str | None, registry: Registry, table: RouteTable) -> str:
    if not table.routes_by_bydel(now):
        return f"no recipient serves {now}"
    if not bydelsnummer:
        return f"{now} is routed by bydel and the report names no bydel"
    if bydelsnummer == UNSPECIFIED_BYDEL:
        return f"{now} is routed by bydel and the report's bydel is 99 (unspecified)"
    reason = f"no recipient serves {now} bydel {bydelsnummer}"
    bydel = registry.bydel(now, bydelsnummer)
    if bydel is None:
        return f"{reason} ({now} has no bydel {bydelsnummer})"
    if bydel.kind is BydelKind.STATISTICAL:
        return f"{reason} ({bydel.bydelsnavn}: a statistical area with no service of its own)"
    return reason
