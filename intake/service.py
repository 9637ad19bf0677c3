"""Accepting a report: one unit of work writes the report, its first transition and outbox row."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from intake.parsing import canonical_bytes, parse_json_object
from intake.problems import Problem
from intake.validation import validate_submission
from ledger.digest import sha256_hex
from ledger.errors import DuplicateKey
from ledger.records import IdempotencyKey, NewReport
from ledger.topology import ROUTE

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

INTAKE = "intake"


@dataclass(frozen=True)
class Submission:
    client_id: str
    meldingstype: str
    kommunenummer: str
    bydelsnummer: str | None
    document: bytes
    request_sha256: str
    idempotency_key: str | None
    sendingstidspunkt: datetime | None = None


@dataclass(frozen=True)
class Accepted:
    id: str
    received_at: datetime
    replay: bool = False


def request_fingerprint(body: dict[str, Any]) -> str:
    """Same JSON content, same fingerprint, whatever the key order or whitespace."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sha256_hex(canonical.encode("utf-8", "surrogatepass"))


def submission_from_body(client_id: str, idempotency_key: str | None, raw: bytes) -> Submission:
    """Parse and check a request body. Raises `Problem` (400, 422). Pure."""
    body = parse_json_object(raw)
    valid = validate_submission(body)
    return Submission(
        client_id=client_id,
        meldingstype=valid.meldingstype,
        kommunenummer=valid.kommunenummer,
        bydelsnummer=valid.bydelsnummer,
        document=canonical_bytes(valid.document),
        request_sha256=request_fingerprint(body),
        idempotency_key=idempotency_key,
        sendingstidspunkt=valid.sendingstidspunkt,
    )


def idempotency_conflict() -> Problem:
    return Problem(
        409,
        "idempotency-key-reused",
        "Idempotency-Key reused with a different body",
        "this Idempotency-Key was first used with another request body; use a new key",
    )


def accept_report(
    uow_factory: Callable[[], UnitOfWork],
    submission: Submission,
    *,
    now: Callable[[], datetime],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Accepted:
    """Store the report durably, or raise. Returns the earlier answer for a repeated key.

    A new report is written without first asking whether its key was used: the key is
    written with it, in its transaction, and a key used before makes that write fail
    (`DuplicateKey`). Then, and only then, the earlier answer is read (a repeat, or a
    concurrent request with the same key that committed first)."""

    def in_a_transaction(look_first: bool) -> Accepted:
        with uow_factory() as uow:
            accepted = _write(uow, submission, now=now, new_id=new_id, look_first=look_first)
            uow.commit()
            return accepted

    try:
        return in_a_transaction(False)
    except DuplicateKey:
        if submission.idempotency_key is None:
            raise
        log.debug("this Idempotency-Key was used before; answering as its first request")
        return in_a_transaction(True)


def accept_in(
    uow: UnitOfWork,
    submission: Submission,
    *,
    now: Callable[[], datetime],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Accepted:
    """A new report written in a transaction the caller commits (`ledger.group_commit`),
    its key not looked up: if the key was used before (perhaps earlier in this very
    transaction), this raises `DuplicateKey`, and the transaction is spoiled; the caller
    then answers with `accept_report`, which reads the earlier answer."""
    return _write(uow, submission, now=now, new_id=new_id, look_first=False)


def _write(
    uow: UnitOfWork,
    submission: Submission,
    *,
    now: Callable[[], datetime],
    new_id: Callable[[], str],
    look_first: bool,
) -> Accepted:
    """Write the new report (or, with `look_first`, answer as the key's first request did),
    in the caller's transaction."""
    key = submission.idempotency_key
    if key is not None and look_first:
        earlier = uow.keys.answer(submission.client_id, key)
        if earlier is not None:
            request_sha256, report_id = earlier
            if request_sha256 != submission.request_sha256:
                raise idempotency_conflict()
            report = uow.reports.get(report_id)
            assert report is not None
            return Accepted(report.id, report.received_at, replay=True)
    received_at = now()
    report = uow.reports.add(
        NewReport(
            id=new_id(),
            client_id=submission.client_id,
            meldingstype=submission.meldingstype,
            submitted_kommunenummer=submission.kommunenummer,
            submitted_bydelsnummer=submission.bydelsnummer,
            received_at=received_at,
            sendingstidspunkt=submission.sendingstidspunkt,
        ),
        submission.document,
        actor=f"{INTAKE}:{submission.client_id}",
        dispatch=ROUTE,
        key=None if key is None else IdempotencyKey(key, submission.request_sha256),
    )
    return Accepted(report.id, report.received_at)
