"""Receipts from asynchronous mailboxes (fiks-io): what each one means for the report.

`interpret` is pure: a receipt, the hash of what we sent and the recipient's receipt mode
in, an outcome out. `handle_receipt` applies it in one unit of work. A receipt may arrive
before the sending attempt has recorded AWAITING_RECEIPT, so DELIVERING is accepted too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from deliverers.base import ContentMismatch, Receipt, ReceiptFailed, TransientError
from deliverers.control import DeliveryControl
from deliverers.fiks_io import FEILET, MOTTATT, TIDSAVBRUDD
from deliverers.outcomes import Outcome, apply_outcome
from deliverers.stage import body_for
from ledger.digest import sha256_hex
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from router.routes import ReceiptMode

log = logging.getLogger(__name__)

RECEIPTS = "receipts"
REASON_LIMIT = 300


@dataclass(frozen=True)
class IncomingReceipt:
    report_id: str  # the `svar-paa-melding` header
    type: str
    body: bytes


def interpret(receipt: IncomingReceipt, expected_sha256: str, mode: ReceiptMode) -> Outcome | None:
    """What a receipt proves; None for a type that means nothing to a report."""
    if receipt.type == MOTTATT:
        proof = _json_object(receipt.body)
        reference, digest = proof.get("saksreferanse"), proof.get("sha256")
        if isinstance(reference, str) and reference and isinstance(digest, str):
            if digest != expected_sha256:
                return ContentMismatch()
            return Receipt(reference, expected_sha256, None)
        if mode is ReceiptMode.LEGACY:
            return Receipt(None, expected_sha256, None, proven=False)
        return TransientError("mottatt without saksreferanse and sha256 (receipt: strict)")
    if receipt.type == FEILET:
        melding = _json_object(receipt.body).get("melding")
        text = melding if isinstance(melding, str) and melding else "no explanation"
        return ReceiptFailed(f"feilet: {text[:REASON_LIMIT]}")
    if receipt.type == TIDSAVBRUDD:
        return TransientError("tidsavbrudd: the message's ttl ran out before the recipient took it")
    return None


def handle_receipt(
    uow_factory: Callable[[], UnitOfWork],
    receipt: IncomingReceipt,
    *,
    control_for: Callable[[str], DeliveryControl],
    receipt_mode_for: Callable[[str], ReceiptMode],
    now: Callable[[], datetime],
    jitter: Callable[[], float],
) -> State | None:
    with uow_factory() as uow:
        report = uow.reports.get(receipt.report_id, lock=True)
        if (
            report is None
            or report.recipient is None
            or report.state not in (State.DELIVERING, State.AWAITING_RECEIPT)
        ):
            log.info(
                "receipt %s for report %s ignored: not awaited",
                receipt.type,
                receipt.report_id,
                extra={"report_id": receipt.report_id, "event": "receipt-ignored"},
            )
            return None
        document = uow.reports.document(report.id)
        assert document is not None
        expected = sha256_hex(body_for(report, document))
        outcome = interpret(receipt, expected, receipt_mode_for(report.recipient))
        if outcome is None:
            log.warning(
                "receipt of unknown type %s for report %s",
                receipt.type,
                report.id,
                extra={
                    "report_id": report.id,
                    "recipient": report.recipient,
                    "event": "receipt-unknown",
                },
            )
            return None
        moved, _ = apply_outcome(
            uow,
            report,
            outcome,
            control=control_for(report.recipient),
            now=now(),
            jitter=jitter,
            detail={"attempt": report.attempts, "receipt": receipt.type},
            actor=RECEIPTS,
        )
        uow.commit()
        return moved.state


def _json_object(body: bytes) -> dict[str, object]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
