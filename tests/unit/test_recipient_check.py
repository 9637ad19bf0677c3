"""The checks of `relay check-recipient` against in-memory case systems, and its test report."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from deliverers.base import DeliveryError, PermanentError, TransientError
from intake.meldingstyper import PRIVAT_V2
from intake.protocol import example
from intake.schemas import is_valid
from relay.recipient_check import (
    TEST_MARK,
    TEST_RECIPIENT,
    Outcome,
    Plan,
    run_checks,
    synthetic_delivery,
    synthetic_document,
)
from tests.support.fakes import FakeCaseSystem

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PLAN = Plan(
    report=synthetic_delivery("report-1", NOW, "4601"),
    mottatt=NOW,
    forged=synthetic_delivery("report-2", NOW, "4601"),
    secret_env="CASE_SECRET",
)
REFUSED = PermanentError("HTTP 401: signature", status_code=401)


def test_the_test_report_is_valid_made_up_and_says_it_is_a_test() -> None:
    document = synthetic_document("4601")
    assert is_valid(PRIVAT_V2, document)
    sent = json.loads(PLAN.report.body)
    assert sent["mottaker"] == {"recipient": TEST_RECIPIENT, "kommunenummer": "4601"}
    assert sent["bekymringsmelding"] == document
    assert sent["bekymringsmelding"]["melding"] == TEST_MARK
    names = [document["privatMelder"]["personnavn"]]
    names += [child["personnavn"] for child in document["privatBarn"]]
    assert all(name.startswith("TEST ") for name in names)
    assert example(PRIVAT_V2)["privatMelder"]["personnavn"] not in PLAN.report.body.decode()


def test_a_case_system_keeping_the_contract_passes_every_check() -> None:
    results = run_checks(FakeCaseSystem(), FakeCaseSystem(REFUSED), PLAN)
    assert [(result.name, result.outcome) for result in results] == [
        ("push", Outcome.PASSED),
        ("repeat", Outcome.PASSED),
        ("read-back", Outcome.PASSED),
        ("listing", Outcome.PASSED),
        ("bad-signature", Outcome.PASSED),
    ]


@pytest.mark.parametrize(
    ("error", "seen", "fix_names"),
    [
        (PermanentError(f"HTTP 422: {TEST_MARK}", status_code=422), "refused, HTTP 422", "log"),
        (PermanentError("HTTP 401: no", status_code=401), "refused, HTTP 401", "CASE_SECRET"),
        (PermanentError("HTTP 404: no", status_code=404), "refused, HTTP 404", "base URL"),
        (TransientError("HTTP 503", status_code=503), "HTTP 503", "log"),
        (TransientError("timeout (ReadTimeout)"), "timeout (ReadTimeout)", "30 s"),
        (TransientError("201 without saksreferanse", status_code=201), "201 without", "JSON"),
    ],
)
def test_a_failed_push_says_what_was_seen_and_what_to_fix_and_skips_what_needs_it(
    error: DeliveryError, seen: str, fix_names: str
) -> None:
    push, *rest = run_checks(FakeCaseSystem(error), FakeCaseSystem(REFUSED), PLAN)
    assert push.outcome is Outcome.FAILED
    assert push.seen.startswith(seen)
    assert fix_names in push.fix
    assert [result.outcome for result in rest] == [Outcome.SKIPPED] * 3 + [Outcome.PASSED]


def test_what_a_refusal_quotes_of_the_report_is_never_shown() -> None:
    error = PermanentError(f"HTTP 422: {TEST_MARK}", status_code=422)
    results = run_checks(FakeCaseSystem(error), FakeCaseSystem(error), PLAN)
    for result in results:
        assert TEST_MARK not in result.seen + result.fix
