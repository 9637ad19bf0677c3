"""How deliveries to one recipient are paced: its retry policy, breaker and limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from deliverers.breaker import BreakerPolicy
from deliverers.retry import RetryPolicy


@dataclass(frozen=True)
class DeliveryControl:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    max_concurrent: int = 4
    lease_seconds: float = 90.0  # an attempt not finished by then is taken as abandoned
    receipt_deadline_seconds: float = 3600.0  # fiks-io: no receipt by then is a failed attempt
    # After a successful attempt the worker goes on with the recipient's next waiting report
    # itself, for up to this long (`deliverers.stage`); 0: one report a task.
    follow_on_seconds: float = 0.0
