"""The intake HTTP API for portal backends, per `spec/intake-api.md`.

Handlers parse and check the request, call the intake service inside a unit of work, and
translate the result. A 202 is sent only after the report is committed.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake.parsing import canonical_bytes, parse_json_object
from intake.problems import Problem
from intake.service import Accepted, Submission, accept_report, request_fingerprint
from intake.validation import validate_submission
from ledger.clock import rfc3339, utc_now
from ledger.database import is_unavailable
from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,200}$")
DATABASE_ERRORS = (DBAPIError, PoolTimeout)


@dataclass(frozen=True)
class IntakeConfig:
    uow_factory: Callable[[], UnitOfWork]
    tokens: Mapping[str, str]  # token -> client id
    max_body_bytes: int
    now: Callable[[], datetime] = utc_now


def _unauthorised(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorised",
        "Missing or unknown bearer token",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="bekymring-relay"'},
    )


def authenticate(authorization: str | None, tokens: Mapping[str, str]) -> str:
    """The client id for a bearer token, compared in constant time against every token."""
    if not authorization:
        raise _unauthorised("send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("the Authorization header must use the Bearer scheme")
    given = token.strip().encode("utf-8", "surrogateescape")
    client: str | None = None
    for known, known_client in tokens.items():
        if hmac.compare_digest(known.encode("utf-8"), given):
            client = known_client
    if client is None:
        raise _unauthorised("the token is not known")
    return client


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes `limit` bytes."""
    too_large = Problem(
        413, "body-too-large", "The body is too large", f"the limit is {limit} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _check_content_type(value: str | None) -> None:
    media_type = (value or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem(
            415,
            "unsupported-media-type",
            "Content-Type must be application/json",
            f"got {media_type or 'no Content-Type'}",
        )


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.match(value):
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "an Idempotency-Key is 1 to 200 printable ASCII characters",
        )
    return value


def accepted_body(accepted: Accepted) -> dict[str, str]:
    return {"id": accepted.id, "status": "RECEIVED", "received_at": rfc3339(accepted.received_at)}


def create_intake_app(config: IntakeConfig) -> FastAPI:
    app = FastAPI(
        title="bekymring-relay intake",
        version="1",
        description="Portal backends submit child-welfare concern reports here.",
    )

    @app.exception_handler(Problem)
    async def _problem(_request: Request, problem: Problem) -> JSONResponse:
        return problem.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return Problem(error.status_code, slug, str(error.detail), str(error.detail)).response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        return Problem(400, "bad-request", "Bad request", "the request is malformed").response()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        await run_in_threadpool(_ping, config)
        return JSONResponse({"status": "ok"})

    @app.post("/v1/reports", status_code=202)
    async def submit(request: Request) -> JSONResponse:
        client_id = authenticate(request.headers.get("authorization"), config.tokens)
        _check_content_type(request.headers.get("content-type"))
        key = _idempotency_key(request.headers.get("idempotency-key"))
        body = parse_json_object(await read_body(request, config.max_body_bytes))
        valid = validate_submission(body)
        submission = Submission(
            client_id=client_id,
            meldingstype=valid.meldingstype,
            kommunenummer=valid.kommunenummer,
            bydelsnummer=valid.bydelsnummer,
            document=canonical_bytes(valid.document),
            request_sha256=request_fingerprint(body),
            idempotency_key=key,
        )
        accepted = await run_in_threadpool(_accept, config, submission)
        if not accepted.replay:
            log.info("accepted report %s from client %s", accepted.id, client_id)
        return JSONResponse(
            accepted_body(accepted),
            status_code=202,
            headers={"Location": f"/v1/reports/{accepted.id}"},
        )

    @app.get("/v1/reports/{report_id}")
    async def status(report_id: str, request: Request) -> JSONResponse:
        client_id = authenticate(request.headers.get("authorization"), config.tokens)
        view = await run_in_threadpool(_status_view, config, report_id, client_id)
        if view is None:
            raise Problem(404, "not-found", "No such report", "no report with this id for you")
        return JSONResponse(view)

    return app


def _accept(config: IntakeConfig, submission: Submission) -> Accepted:
    with ledger_errors_as_503():
        return accept_report(config.uow_factory, submission, now=config.now)


def _ping(config: IntakeConfig) -> None:
    with ledger_errors_as_503(), config.uow_factory() as uow:
        uow.ledger.ping()


@contextmanager
def ledger_errors_as_503() -> Iterator[None]:
    """A ledger that cannot commit right now becomes a 503 that tells the client to retry."""
    try:
        yield
    except DATABASE_ERRORS as error:
        if not is_unavailable(error):
            raise
        log.error("ledger unavailable (%s); answering 503", type(error).__name__)
        raise _ledger_unavailable() from None


def _ledger_unavailable() -> Problem:
    return Problem(
        503,
        "ledger-unavailable",
        "The report could not be stored right now",
        "nothing was stored; send the same request again with the same Idempotency-Key",
        headers={"Retry-After": "5"},
    )


def _status_view(config: IntakeConfig, report_id: str, client_id: str) -> dict[str, Any] | None:
    with ledger_errors_as_503(), config.uow_factory() as uow:
        report = uow.ledger.get(report_id)
        if report is None or report.client_id != client_id:
            return None
        history = uow.ledger.history(report_id)
    return {
        "id": report.id,
        "meldingstype": report.meldingstype,
        "status": report.state.value,
        "kommunenummer": report.kommunenummer or report.submitted_kommunenummer,
        "recipient": report.recipient,
        "received_at": rfc3339(report.received_at),
        "updated_at": rfc3339(report.updated_at),
        "history": [{"status": t.to_state.value, "at": rfc3339(t.at)} for t in history],
    }
