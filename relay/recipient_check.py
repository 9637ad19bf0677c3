"""`relay check-recipient`: the rest-json receiving contract, run against a case system.

For a municipality's IT person. A synthetic test report (no real person's data; marked as a
test in its recipient, names and text) is pushed with the relay's own rest-json adapter, so
the check sends exactly what production sends. Then: the same push again must answer the
same saksreferanse; read-back must hold our bytes (equal SHA-256); the list since the
report's `mottatt` must include it; a push signed with a wrong secret must be refused.

The checks speak to the case system only through the `Deliverer` interface. Each result
names its check, what was seen (status codes and ids, never content) and what to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx

from deliverers.base import (
    ContentMismatch,
    Deliverer,
    Delivery,
    DeliveryError,
    PermanentError,
    Receipt,
    Sent,
    TransientError,
)
from deliverers.body import delivery_body
from intake.meldingstyper import PRIVAT_V2
from ledger.clock import rfc3339
from ledger.digest import sha256_hex

TEST_RECIPIENT = "relay-check-recipient"
TEST_MARK = "TEST from `relay check-recipient`: not a real report, no real person; delete it."
REACH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SIGNATURE_DOC = "docs/signing-secret-rotation.md"


class Outcome(StrEnum):
    PASSED = "pass"
    FAILED = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: Outcome
    seen: str  # status codes, ids and hashes' agreement; never content
    fix: str = ""


@dataclass(frozen=True)
class Plan:
    """The two test reports: one signed with the shared secret, one with a wrong secret."""

    report: Delivery
    mottatt: datetime
    forged: Delivery
    secret_env: str


def synthetic_document(kommunenummer: str) -> dict[str, Any]:
    """A privat v2 document valid against the KS schema, made up, and saying it is a test."""
    address = {"adresselinje1": "Testveien 1", "postnummer": "0000", "poststed": "TEST"}
    return {
        "kommunenummer": kommunenummer,
        "kommunenavn": "TEST",
        "bydelsnummer": "00",
        "bydelsnavn": "TEST",
        "privatMelder": {"personnavn": "TEST Testmelder", "adresse": address},
        "privatBarn": [{"personnavn": "TEST Testbarn", "antattAlder": "0", "adresse": address}],
        "melding": TEST_MARK,
        "sendingstidspunkt": "2000-01-01T00:00:00",
        "leveringskanal": "TEST",
    }


def synthetic_delivery(report_id: str, mottatt: datetime, kommunenummer: str) -> Delivery:
    """The bytes production would send for the test report, built by production's code."""
    body = delivery_body(
        report_id=report_id,
        meldingstype=PRIVAT_V2,
        recipient=TEST_RECIPIENT,
        kommunenummer=kommunenummer,
        bydelsnummer=None,
        mottatt=mottatt,
        document=json.dumps(synthetic_document(kommunenummer), ensure_ascii=False).encode(),
    )
    return Delivery(report_id, body, sha256_hex(body), PRIVAT_V2)


def run_checks(genuine: Deliverer, forger: Deliverer, plan: Plan) -> list[CheckResult]:
    """Every check, in order; those that need a stored report are skipped without one."""
    push, receipt = _push(genuine, plan)
    results = [push]
    if receipt is None:
        needs = "fix push first: this check needs a stored report"
        results += [
            CheckResult(name, Outcome.SKIPPED, "-", needs)
            for name in ("repeat", "read-back", "listing")
        ]
    else:
        results += [
            _repeat(genuine, plan, receipt),
            _read_back(genuine, plan, receipt),
            _listing(genuine, plan),
        ]
    return [*results, _bad_signature(forger, genuine, plan)]


def unreachable(client: httpx.Client, url: str) -> str | None:
    """One line saying why nothing answers at `url`, or None when something does."""
    try:
        client.get(url, timeout=REACH_TIMEOUT)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.InvalidURL) as error:
        why = str(error) or type(error).__name__
        return f"cannot connect to {url} ({why}); is the URL right, and the case system running?"
    except httpx.HTTPError:
        return None  # it answered something, or is slow: the checks will say
    return None


def _push(genuine: Deliverer, plan: Plan) -> tuple[CheckResult, Receipt | None]:
    try:
        result = genuine.deliver(plan.report)
    except DeliveryError as error:
        return _failed("push", error, plan, "201 {saksreferanse, sha256}"), None
    if isinstance(result, Sent):  # not rest-json's way: a receipt is the only proof
        return CheckResult("push", Outcome.FAILED, "no receipt", "answer 201 with a receipt"), None
    seen = f"HTTP {result.status_code}, saksreferanse {result.saksreferanse}, sha256 ours"
    return CheckResult("push", Outcome.PASSED, seen), result


def _repeat(genuine: Deliverer, plan: Plan, first: Receipt) -> CheckResult:
    try:
        again = genuine.deliver(plan.report)
    except DeliveryError as error:
        return _failed("repeat", error, plan, "200 {saksreferanse, sha256}")
    if isinstance(again, Sent) or again.saksreferanse != first.saksreferanse:
        second = again.saksreferanse if isinstance(again, Receipt) else "none"
        return CheckResult(
            "repeat",
            Outcome.FAILED,
            f"saksreferanse {first.saksreferanse}, then {second}",
            "recognise a report already stored by its id (Idempotency-Key) and answer 200 with "
            "the saksreferanse it got first; never store it twice",
        )
    return CheckResult("repeat", Outcome.PASSED, f"HTTP {again.status_code}, same saksreferanse")


def _read_back(genuine: Deliverer, plan: Plan, receipt: Receipt) -> CheckResult:
    try:
        copy = genuine.read_back(plan.report.report_id)
    except DeliveryError as error:
        return _failed("read-back", error, plan, "200 {id, saksreferanse, sha256}")
    if copy is None:
        return CheckResult(
            "read-back",
            Outcome.FAILED,
            "HTTP 404 for the report it just stored",
            "GET /bekymringsmeldinger/<id> must find every stored report",
        )
    if copy.sha256 != plan.report.sha256:
        return CheckResult(
            "read-back",
            Outcome.FAILED,
            "sha256 is not ours: it holds other bytes",
            "store the request body byte for byte (never re-serialised) and answer the "
            "SHA-256 of the bytes it holds",
        )
    if copy.saksreferanse != receipt.saksreferanse:
        return CheckResult(
            "read-back",
            Outcome.FAILED,
            f"saksreferanse {copy.saksreferanse}, the push answered {receipt.saksreferanse}",
            "answer the saksreferanse the push answered",
        )
    return CheckResult("read-back", Outcome.PASSED, "sha256 ours, same saksreferanse")


def _listing(genuine: Deliverer, plan: Plan) -> CheckResult:
    try:
        ids = genuine.list_since(plan.mottatt)
    except DeliveryError as error:
        return _failed("listing", error, plan, '200 {"ids": [...]}')
    if plan.report.report_id not in ids:
        return CheckResult(
            "listing",
            Outcome.FAILED,
            f"{_ids(ids)} since {rfc3339(plan.mottatt)}, not the test report",
            "list every stored id whose mottatt is at or after mottatt_fra (compare instants)",
        )
    return CheckResult("listing", Outcome.PASSED, f"{_ids(ids)}, the test report among them")


def _bad_signature(forger: Deliverer, genuine: Deliverer, plan: Plan) -> CheckResult:
    name = "bad-signature"
    refuse = (
        "check X-Relay-Signature before storing anything, and answer 401 when no signature "
        f"matches ({SIGNATURE_DOC})"
    )
    try:
        result = forger.deliver(plan.forged)
    except ContentMismatch as error:  # a 2xx: it took the push
        return CheckResult(name, Outcome.FAILED, f"accepted, HTTP {error.status_code}", refuse)
    except PermanentError as error:
        if error.status_code not in (401, 403):
            return CheckResult(name, Outcome.FAILED, f"HTTP {error.status_code}", refuse)
        try:
            stored = genuine.read_back(plan.forged.report_id)
        except DeliveryError:
            stored = None  # read-back itself is judged by its own check
        if stored is not None:
            return CheckResult(name, Outcome.FAILED, "refused, but stored it", refuse)
        return CheckResult(name, Outcome.PASSED, f"refused, HTTP {error.status_code}")
    except TransientError as error:
        return CheckResult(name, Outcome.FAILED, str(error), refuse)
    status = result.status_code if isinstance(result, Receipt) else None
    return CheckResult(name, Outcome.FAILED, f"accepted, HTTP {status}", refuse)


def _failed(name: str, error: DeliveryError, plan: Plan, answer: str) -> CheckResult:
    return CheckResult(name, Outcome.FAILED, _seen(error), _fix(error, plan.secret_env, answer))


def _seen(error: DeliveryError) -> str:
    if isinstance(error, ContentMismatch):
        return f"HTTP {error.status_code}, sha256 is not ours"
    if isinstance(error, PermanentError):  # its explanation may quote what we sent: not shown
        return f"refused, HTTP {error.status_code}"
    return str(error)  # our own words: a status code or an error class


def _fix(error: DeliveryError, secret_env: str, answer: str) -> str:
    status = error.status_code
    if isinstance(error, ContentMismatch):
        return "answer the SHA-256 of the request body bytes exactly as received"
    if status in (401, 403):
        return (
            f"it must hold the secret in {secret_env} and check X-Relay-Signature (HMAC-SHA256 "
            f"over `<X-Relay-Timestamp>.<body>`, {SIGNATURE_DOC}); a bearer token: --token-env"
        )
    if status == 404:
        return "give the base URL that /bekymringsmeldinger hangs under"
    if isinstance(error, PermanentError):
        return "its log says why it refused; --kommunenummer if it takes only its own"
    if status is not None and 200 <= status < 300:
        return f"answer {answer} as JSON"
    if status in (408, 429):
        return "it asked us to wait: run the check again when it is less busy"
    if status is not None:
        return "it failed: its log says why"
    return "it did not answer in time (5 s to connect, 30 s to answer), or dropped the connection"


def _ids(ids: set[str]) -> str:
    return f"{len(ids)} id{'' if len(ids) == 1 else 's'}"
