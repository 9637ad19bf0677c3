"""The content key ring tests open the ledger with (a fixed key: for tests only), and
reports put straight into a given state through the ledger's own moves."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import Engine

from ledger.content_crypto import ContentKey, KeyRing
from ledger.lifecycle import State
from ledger.records import NewReport
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork

TEST_KEYS = KeyRing((ContentKey("test-1", bytes(range(32))),))

PATHS: dict[State, list[State]] = {
    State.RECEIVED: [],
    State.HELD: [State.HELD],
    State.ROUTED: [State.ROUTED],
    State.RETRY_SCHEDULED: [State.ROUTED, State.RETRY_SCHEDULED],
    State.DELIVERED: [State.ROUTED, State.DELIVERING, State.DELIVERED],
    State.VERIFIED: [State.ROUTED, State.DELIVERING, State.DELIVERED, State.VERIFIED],
    State.MISSING: [State.ROUTED, State.DELIVERING, State.DELIVERED, State.MISSING],
    State.DEAD_LETTERED: [State.ROUTED, State.DEAD_LETTERED],
    State.RESOLVED_MANUALLY: [State.ROUTED, State.DEAD_LETTERED, State.RESOLVED_MANUALLY],
}
ROUTED_TO = {"recipient": "bergen", "vendor": "rest-json", "kommunenummer": "4601"}


def report_in(
    engine: Engine,
    state: State,
    at: datetime,
    document: bytes = b'{"melding":"test"}',
    *,
    keys: KeyRing = TEST_KEYS,
) -> str:
    """A new report moved to `state` along the usual path, every move at `at`."""
    from deliverers.stage import body_for

    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, keys) as uow:
        new = NewReport(
            report_id, "portal", "no.ks.fiks.bekymringsmelding.privat.v2", "4601", None, at
        )
        report = uow.reports.add(new, document, actor="intake:portal", dispatch=ROUTE)
        for step in PATHS[state]:
            changes: dict[str, object] = {}
            if step is State.ROUTED:
                changes = {**ROUTED_TO, "routed_at": at}
            if step is State.DELIVERED:
                sha256 = hashlib.sha256(body_for(report, document)).hexdigest()
                changes = {"delivery_sha256": sha256, "saksreferanse": "SAK-1"}
            report = uow.reports.move(report, step, at=at, actor="test", changes=changes)
        uow.commit()
    return report_id
