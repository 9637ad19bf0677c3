"""An operator's choice of recipient for a HELD report, checked and decided. Pure.

A report is HELD when no route can be found for it: its number was split, never existed,
or nobody serves it. An operator may then choose the recipient. The choice is checked
against the report's numbers: the recipient must serve one of the municipalities the
report may belong to today (each part of a split number; today's number, or one of its
bydeler, for any other), unless the operator forces it (with a reason, recorded).

The operator's choice is recorded in the ledger (`router.held`); a worker decides with
the routes table it has in force (`decide`), never the operator's shell's view of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.check import Serving
from router.registry import Registry, Split, join
from router.resolve import Decision, Held, Routed, resolve
from router.routes import SERVES_PATTERN, RouteTable

REROUTE = "reroute"  # the key of an operator's request in its transition's detail


@dataclass(frozen=True)
class Choice:
    """What an operator asked for: a recipient (None: route with the routes in force) and
    whether it is forced past the check."""

    recipient: str | None = None
    force: bool = False

    def as_detail(self) -> dict[str, Any]:
        return {REROUTE: {"recipient": self.recipient, "force": self.force}}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any] | None) -> Choice | None:
        request = (detail or {}).get(REROUTE)
        if not isinstance(request, Mapping):
            return None
        return cls(request.get("recipient"), bool(request.get("force")))


def places(kommunenummer: str, registry: Registry) -> tuple[str, ...]:
    """Today's municipalities a report with this number may belong to: each part of a
    split number, today's number for any other one, nothing for one that never existed."""
    found = registry.lookup(kommunenummer)
    if found is None:
        return ()
    if isinstance(found, Split):
        return found.parts
    return (found.kommunenummer,)


def served_place(
    recipient: Serving, numbers: Sequence[str], bydelsnummer: str | None = None
) -> tuple[str, str | None] | None:
    """Where among `numbers` the recipient serves, as (kommunenummer, bydelsnummer or None):
    the report's own bydel first, then a whole municipality, then any bydel; None if it
    serves none of them."""
    found = []
    for served in recipient.serves:
        match = SERVES_PATTERN.match(served)
        if match and match.group(1) in numbers:
            found.append((match.group(1), match.group(2)))

    def rank(place: tuple[str, str | None]) -> int:
        if place[1] is not None and place[1] == bydelsnummer:
            return 0
        return 1 if place[1] is None else 2

    return min(found, key=rank) if found else None


def check_choice(
    kommunenummer: str,
    recipient_id: str,
    recipients: Mapping[str, Serving],
    registry: Registry,
    *,
    force: bool,
) -> str | None:
    """Why the choice cannot be made, for the operator; None if it can."""
    recipient = recipients.get(recipient_id)
    if recipient is None:
        return f"no recipient {recipient_id} in the routes table"
    if force:
        return None
    numbers = places(kommunenummer, registry)
    if served_place(recipient, numbers) is not None:
        return None
    if not numbers:
        return (
            f"kommunenummer {kommunenummer} is no municipality today, so no recipient serves"
            " it; choose with --force and say why in --reason"
        )
    return (
        f"{recipient_id} serves none of {join(numbers)} (where kommunenummer"
        f" {kommunenummer} is today); choose one that does, or --force with a reason"
    )


def decide(
    kommunenummer: str,
    bydelsnummer: str | None,
    choice: Choice,
    registry: Registry,
    table: RouteTable,
) -> Decision:
    """Where the report goes with `table`: routed as `resolve` routes it, or to the chosen
    recipient if `table` has it and the choice holds; else HELD with the reason."""
    if choice.recipient is None:
        return resolve(kommunenummer, bydelsnummer, registry, table)
    problem = check_choice(
        kommunenummer, choice.recipient, table.recipients, registry, force=choice.force
    )
    if problem is not None:
        if choice.recipient not in table.recipients:
            problem = (
                f"recipient {choice.recipient}, chosen by the operator, is not in the routes"
                f" table in force (sha256 {table.sha256 or 'unknown'}); `relay routes status`"
                " shows which processes have which table"
            )
        return Held(problem)
    recipient = table.recipients[choice.recipient]
    place = served_place(recipient, places(kommunenummer, registry), bydelsnummer)
    if place is None:  # forced: the case system gets the number the report carried
        return Routed(recipient.id, recipient.vendor, kommunenummer, None)
    return Routed(recipient.id, recipient.vendor, place[0], place[1])
