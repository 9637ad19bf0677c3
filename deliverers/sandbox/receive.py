"""How a simulated case system receives one report, faults included. Both the rest-json
app and the fiks-io recipient answer through this, so they fail in the same ways."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deliverers.sandbox.faults import Faults
from deliverers.sandbox.store import SandboxStore
from ledger.digest import sha256_hex


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    note: str = ""  # which fault shaped the answer, for tests: dropped, damaged, …


def problem(status: int, title: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status}


def receive(
    store: SandboxStore,
    faults: Faults,
    *,
    report_id: str,
    body: bytes,
    mottatt: str,
    mottaker: dict[str, Any],
    now: datetime,
) -> Answer:
    refusal = faults.refusal(mottaker)
    if refusal:
        return Answer(422, problem(422, refusal), "rejected")
    if faults.happens(faults.error_rate):
        return Answer(503, problem(503, "temporarily unavailable (simulated)"), "error")
    digest = sha256_hex(body)
    first_time = not store.posted(report_id)  # the bugs below strike a report's first delivery
    if first_time and faults.happens(faults.drop_rate):
        reference = f"SAK-{uuid.uuid4().hex[:12].upper()}"
        return Answer(201, {"saksreferanse": reference, "sha256": digest}, "dropped")
    if first_time and faults.happens(faults.damage_rate):
        damaged = body.replace(b'"melding', b'"meld1ng', 1) + b" "
        stored, _ = store.store(report_id, sha256_hex(damaged), damaged, mottatt, now)
        return Answer(201, {"saksreferanse": stored.saksreferanse, "sha256": digest}, "damaged")
    stored, created = store.store(report_id, digest, body, mottatt, now)
    if faults.happens(faults.store_then_fail_rate):
        return Answer(500, problem(500, "stored, then failed (simulated)"), "stored-then-failed")
    return Answer(
        201 if created else 200, {"saksreferanse": stored.saksreferanse, "sha256": stored.sha256}
    )
