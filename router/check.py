"""What `relay routes check` finds in a routes file, measured against the registry. Pure.

A served number that does not exist today (a typo, a former number, a split one) is a
finding, not a load error: the rest of the file routes, and reports that would have used
that entry are HELD with a reason, never dropped. Numbers served twice are both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from router.registry import BydelKind, Registry, Split
from router.routes import SERVES_PATTERN, entry_name, structure_problems


class Kind(StrEnum):
    DUPLICATE = "duplicate"  # an id, or a number, used by two entries
    NEVER_EXISTED = "never-existed"  # a served number that was never a kommunenummer
    OUTDATED = "outdated"  # a served number that is another number today
    SPLIT = "split"  # a served number whose municipality was divided
    NOT_A_BYDEL = "not-a-bydel"  # "kkkk-bb" where kkkk has no such bydel
    UNSERVED = "unserved"  # a municipality (or a bydel of one routed by bydel) with no recipient


@dataclass(frozen=True)
class Finding:
    kind: Kind
    message: str


class Serving(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def serves(self) -> Sequence[str]: ...


def check(entries: Sequence[Serving], registry: Registry) -> list[Finding]:
    """Every finding, in the order an operator fixes them: duplicates, numbers, gaps."""
    duplicates = [
        Finding(Kind.DUPLICATE, problem)
        for problem in structure_problems([(entry.id, entry.serves) for entry in entries])
    ]
    served = {number for entry in entries for number in entry.serves}
    return [*duplicates, *served_findings(entries, registry), *unserved(served, registry)]


def served_findings(entries: Sequence[Serving], registry: Registry) -> list[Finding]:
    """Served numbers that do not exist today, or bydeler their municipality does not have."""
    findings = []
    for index, entry in enumerate(entries):
        where = f"{entry_name(index, entry.id)}.serves"
        for number in entry.serves:
            finding = _served(number, registry)
            if finding is not None:
                findings.append(Finding(finding.kind, f"{where}: {finding.message}"))
    return findings


def unserved(served: Iterable[str], registry: Registry) -> list[Finding]:
    """Today's municipalities, and the bydeler of those routed by bydel, with no recipient."""
    served = set(served)
    findings = []
    for kommunenummer, kommune in sorted(registry.kommuner.items()):
        if kommunenummer in served:
            continue
        name = f"{kommunenummer} ({kommune.kommunenavn})"
        bydeler = [
            bydel
            for bydel in registry.bydeler_of(kommunenummer).values()
            if bydel.kind is not BydelKind.UNSPECIFIED
        ]
        by_bydel = any(number.startswith(f"{kommunenummer}-") for number in served)
        if not (by_bydel and bydeler):
            findings.append(Finding(Kind.UNSERVED, f"{name} has no recipient"))
            continue
        for bydel in bydeler:
            if f"{kommunenummer}-{bydel.bydelsnummer}" not in served:
                message = f"{name} is routed by bydel; bydel {bydel.bydelsnummer}"
                message += f" ({bydel.bydelsnavn}) has no recipient"
                findings.append(Finding(Kind.UNSERVED, message))
    return findings


def _served(number: str, registry: Registry) -> Finding | None:
    match = SERVES_PATTERN.match(number)
    if match is None:  # the loader refuses these; here for a document not yet loaded
        return Finding(Kind.NEVER_EXISTED, f"{number} is not a kommunenummer or bydel")
    kommunenummer, bydelsnummer = match.group(1), match.group(2)
    found = registry.lookup(kommunenummer)
    if found is None:
        return Finding(Kind.NEVER_EXISTED, f"{kommunenummer} has never existed")
    if isinstance(found, Split):
        return Finding(Kind.SPLIT, f"{found.describe()}; serve the parts")
    if found.kommunenummer != kommunenummer:
        today = found.kommunenummer + (f"-{bydelsnummer}" if bydelsnummer else "")
        return Finding(
            Kind.OUTDATED,
            f"{number} is outdated: {kommunenummer} is {found.kommunenummer}"
            f" ({found.kommunenavn}) today; serve {today}",
        )
    if bydelsnummer is None:
        return None
    bydel = registry.bydel(kommunenummer, bydelsnummer)
    if bydel is None:
        return Finding(
            Kind.NOT_A_BYDEL,
            f"{number}: {kommunenummer} ({found.kommunenavn}) has no bydel {bydelsnummer}",
        )
    if bydel.kind is BydelKind.UNSPECIFIED:
        return Finding(
            Kind.NOT_A_BYDEL,
            f"{number}: bydel 99 means unspecified and is never routed by bydel;"
            f" serve {kommunenummer} for reports that name no bydel",
        )
    return None
