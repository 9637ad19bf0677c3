"""schemathesis against the running intake API and the OpenAPI document it serves.

Authenticated with a valid token so that generated requests reach the real handlers (and
real reports are stored in a real ledger); no answer may be a server error, and none may
contradict the document (status, content type, headers, body).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy import Engine

from intake.meldingstyper import MELDINGSTYPER
from intake.schemas import is_valid
from tests.support.intake_server import AUTH, count_reports, serving_on_sqlite
from tests.support.profiles import examples

pytestmark = pytest.mark.integration

EXAMPLES = 75  # per operation and generation mode, under the "ci" profile


@dataclass(frozen=True)
class RunningApi:
    ledger: Engine
    url: str
    schema: OpenApiSchema


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RunningApi]:
    """A running intake API on a ledger of this test's own (no test sees another's reports)."""
    with serving_on_sqlite(tmp_path, max_body_bytes=256 * 1024) as (ledger, url):
        yield RunningApi(ledger, url, schemathesis.openapi.from_url(f"{url}/openapi.json"))


def exercise(api: RunningApi, operation_id: str, mode: GenerationMode) -> None:
    """Generated requests for one operation, each checked by all of schemathesis' checks."""
    # schemathesis' pytest plugin (lazy schemas) does not run on pytest 9, so its strategies
    # are driven by hypothesis here; the checks are schemathesis' own, all of them.
    operation = api.schema.find_operation_by_id(operation_id)

    @settings(
        max_examples=examples(EXAMPLES), deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(operation.as_strategy(generation_mode=mode))
    def check(case: Case[Any]) -> None:
        case.call_and_validate(
            base_url=api.url,
            headers=dict(AUTH),
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
            additional_checks=[valid_reports_are_accepted, invalid_data_is_refused],
        )

    check()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", ["submitReport", "reportStatus"])
def test_the_api_answers_as_its_openapi_document_says(
    api: RunningApi, operation_id: str, mode: GenerationMode
) -> None:
    exercise(api, operation_id, mode)


def valid_reports_are_accepted(_ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """schemathesis' `positive_data_acceptance`, judged by intake's rule.

    A body valid under the OpenAPI document is accepted (202, or 409 when a generated
    Idempotency-Key happens to repeat with another body), with two deliberate exceptions:
    a string holding U+0000 or a lone surrogate is refused (400; no report can hold them),
    and a `pattern` is read in ECMA-262 as JSON Schema says, where schemathesis' generator
    may use another dialect ("4601\\n" matches `^\\d{4}$` in Python's `re`): 422.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if case.operation.label != "POST /v1/reports" or not _storable(case.body):
        return
    assert isinstance(case.body, dict)
    meldingstype = case.body["meldingstype"]
    assert isinstance(meldingstype, str)
    valid = is_valid(meldingstype, case.body["bekymringsmelding"])
    expected = (202, 409) if valid else (422,)
    assert response.status_code in expected, f"{valid=} but answered {response.status_code}"


def invalid_data_is_refused(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """schemathesis' `negative_data_rejection`, except for a report intake's rule calls valid.

    schemathesis counts a `format` it cannot satisfy (`sendingstidspunkt` is `date-time`) as
    invalid data; in the KS schemas `format` is an annotation, so such a document is a valid
    report and is accepted on purpose (intake.tidspunkt). Everything else must be refused.
    """
    if response.status_code == 202 and _a_valid_report(case.body):
        return
    negative_data_rejection(ctx, response, case)


def _a_valid_report(body: Any) -> bool:
    if not isinstance(body, dict) or set(body) != {"meldingstype", "bekymringsmelding"}:
        return False
    meldingstype = body["meldingstype"]
    if meldingstype not in MELDINGSTYPER:
        return False
    return _storable(body) and is_valid(meldingstype, body["bekymringsmelding"])


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and value.encode("utf-8", "ignore").decode() == value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def test_generated_reports_reached_the_ledger(api: RunningApi) -> None:
    """Generated valid submissions are valid reports, not only refusals: some are stored."""
    exercise(api, "submitReport", GenerationMode.POSITIVE)
    assert count_reports(api.ledger) > 0
