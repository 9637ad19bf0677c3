"""Faults a simulated case system can be told to have, so tests and the demo meet real trouble."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    error_rate: float = 0.0  # answer 503 to deliveries without storing
    unavailable: bool = False  # answer 503 to every request: the case system is down
    latency_seconds: float = 0.0  # wait this long before answering
    store_then_fail_rate: float = 0.0  # store, then answer 500 (the ambiguous outcome)
    drop_rate: float = 0.0  # the 2020-2023 bug: answer 201 with a valid receipt, store nothing
    damage_rate: float = 0.0  # answer with the right hash, but store a damaged copy
    reject_kommunenummer: frozenset[str] = frozenset()  # refuse: 422 (rest-json) / feilet
    reject_recipients: frozenset[str] = frozenset()  # refuse everything for these recipients
    silent_attempts: int = 0  # fiks-io: store but send no receipt for a report's first N
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # a simulation, not security

    def refusal(self, mottaker: dict[str, object]) -> str | None:
        """Why this case system refuses a report for `mottaker`, or None."""
        kommunenummer, recipient = mottaker.get("kommunenummer"), mottaker.get("recipient")
        if kommunenummer in self.reject_kommunenummer:
            return f"kommunenummer {kommunenummer} is not served by this case system"
        if recipient in self.reject_recipients:
            return f"recipient {recipient} is not known to this case system"
        return None

    def happens(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def as_dict(self) -> dict[str, object]:
        return {
            "error_rate": self.error_rate,
            "unavailable": self.unavailable,
            "latency_seconds": self.latency_seconds,
            "store_then_fail_rate": self.store_then_fail_rate,
            "drop_rate": self.drop_rate,
            "damage_rate": self.damage_rate,
            "reject_kommunenummer": sorted(self.reject_kommunenummer),
            "reject_recipients": sorted(self.reject_recipients),
            "silent_attempts": self.silent_attempts,
        }

    def update(self, changes: dict[str, object]) -> None:
        """Change faults at run time (PUT /_sandbox/faults). Unknown names are an error."""
        for name, value in changes.items():
            if name in ("reject_kommunenummer", "reject_recipients"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of strings")
                setattr(self, name, frozenset(value))
            elif name in (
                "error_rate",
                "latency_seconds",
                "store_then_fail_rate",
                "drop_rate",
                "damage_rate",
            ):
                if not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a number >= 0")
                setattr(self, name, float(value))
            elif name == "unavailable":
                if not isinstance(value, bool):
                    raise ValueError("unavailable must be true or false")
                self.unavailable = value
            elif name == "silent_attempts":
                if not isinstance(value, int) or value < 0:
                    raise ValueError("silent_attempts must be an integer >= 0")
                self.silent_attempts = value
            else:
                raise ValueError(f"unknown fault {name!r}")
