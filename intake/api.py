"""The intake HTTP API for portal backends, per `docs/intake-api.md`.

Handlers check the request, call the intake service inside a unit of work, and translate
the result. A 202 is sent only after the report is committed. Every answer other than 2xx
is `application/problem+json`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake.openapi import openapi_document
from intake.problems import PROBLEM_JSON, Problem
from intake.request_checks import (
    authenticate,
    check_content_type,
    idempotency_key,
    read_body,
    single_headers,
)
from intake.schemas import check_all_schemas
from intake.service import Accepted, accept_in, accept_report, submission_from_body
from ledger.clock import rfc3339, utc_now
from ledger.database import is_unavailable, lost_connection
from ledger.group_commit import GroupCommit
from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

DATABASE_ERRORS = (DBAPIError, PoolTimeout)
TITLE = "bekymring-relay intake"
DESCRIPTION = "Portal backends submit child-welfare concern reports here (contract version 1)."


LEDGER_THREADS = 10
LOST = "the ledger's connection was lost (%s); trying once more"


@dataclass(frozen=True)
class IntakeConfig:
    uow_factory: Callable[[], UnitOfWork]
    tokens: Mapping[str, str]  # token -> client id
    max_body_bytes: int
    now: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = lambda: str(uuid.uuid4())
    # What keeps this API from serving (the ledger's schema, the broker), or None: `/readyz`.
    readiness: Callable[[], str | None] = lambda: None
    # Requests that use the ledger at once (each in a thread of its own); the others wait
    # their turn. No more than the ledger's pool keeps open (`ledger.database`), so that no
    # request pays for a connection made and closed for it alone.
    ledger_threads: int = LEDGER_THREADS
    # New reports that arrive together written in one transaction, each still answered only
    # after it commits (`ledger.group_commit`); None: each in a transaction of its own.
    group_commit: GroupCommit | None = None


def accepted_body(accepted: Accepted) -> dict[str, str]:
    return {"id": accepted.id, "status": "RECEIVED", "received_at": rfc3339(accepted.received_at)}


def create_intake_app(config: IntakeConfig) -> FastAPI:
    check_all_schemas()
    app = FastAPI(title=TITLE, version="1", description=DESCRIPTION)
    document = openapi_document(TITLE, "1", DESCRIPTION)
    app.openapi = lambda: document  # type: ignore[method-assign]  # FastAPI's documented way
    _answer_problems(app)
    # The ledger's work runs on these threads; requests beyond them wait their turn. A plain
    # executor: anyio's `to_thread` (a capacity limiter, context variables, a pool per event
    # loop) cost intake several per cent of its CPU for the same hand-over.
    ledger = ThreadPoolExecutor(config.ledger_threads, thread_name_prefix="intake-ledger")
    weakref.finalize(app, ledger.shutdown, wait=False)

    async def in_ledger_thread(function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(ledger, function, *args)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """Liveness: the process answers. What it depends on is `/readyz`'s question."""
        return JSONResponse({"status": "alive"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        problem = await run_in_threadpool(config.readiness)
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def submit(request: Request) -> JSONResponse:
        single_headers(request)
        client_id = authenticate(request.headers.get("authorization"), config.tokens)
        check_content_type(
            request.headers.get("content-type"), request.headers.get("content-encoding")
        )
        key = idempotency_key(request.headers.get("idempotency-key"))
        raw = await read_body(request, config.max_body_bytes)
        accepted = await in_ledger_thread(_submit, config, client_id, key, raw)
        if not accepted.replay:
            log.info(
                "accepted report %s from client %s",
                accepted.id,
                client_id,
                extra={"report_id": accepted.id, "state": "RECEIVED", "event": "accepted"},
            )
        return JSONResponse(
            accepted_body(accepted),
            status_code=202,
            headers={"Location": f"/v1/reports/{accepted.id}"},
        )

    async def status(request: Request) -> JSONResponse:
        report_id = request.path_params["report_id"]
        client_id = authenticate(request.headers.get("authorization"), config.tokens)
        view = await in_ledger_thread(_status_view, config, report_id, client_id)
        if view is None:
            raise Problem(404, "not-found", "No such report", "no report with this id for you")
        return JSONResponse(view)

    # Plain Starlette routes: FastAPI's request handling (its dependency solving and
    # response serialisation, unused here: the handlers read the request themselves) cost
    # a few per cent of intake's CPU. The OpenAPI document is written by hand anyway.
    app.add_route("/v1/reports", submit, methods=["POST"])
    app.add_route("/v1/reports/{report_id}", status, methods=["GET"])
    return app


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _answer_problems(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, problem: Problem) -> JSONResponse:
        return problem_response(problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        detail = str(error.detail)
        return problem_response(
            Problem(error.status_code, slug, detail, detail, headers=dict(error.headers or {}))
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, _error: RequestValidationError) -> JSONResponse:
        return problem_response(
            Problem(400, "bad-request", "Bad request", "the request is malformed")
        )

    @app.exception_handler(Exception)
    async def _bug(_request: Request, error: Exception) -> JSONResponse:
        """A bug. Logged by type only: its message might quote a report."""
        log.error("unexpected %s while answering a request", type(error).__name__)
        return problem_response(
            Problem(
                500,
                "internal-error",
                "Internal error",
                "the report may not be stored; send it again with the same Idempotency-Key",
            )
        )


def _submit(config: IntakeConfig, client_id: str, key: str | None, raw: bytes) -> Accepted:
    submission = submission_from_body(client_id, key, raw)

    def alone() -> Accepted:
        return _once_more_on_a_new_connection(
            lambda uow_factory: accept_report(
                uow_factory, submission, now=config.now, new_id=config.new_id
            ),
            config.uow_factory,
            idempotent=key is not None,
        )

    def alone_after(error: Exception) -> Accepted:
        """Its write failed in a group (and nothing of it committed): a key used before, a
        lost connection (the pool then makes new ones), a bug. Once more, alone."""
        if isinstance(error, DATABASE_ERRORS) and lost_connection(error):
            log.warning(LOST, type(error).__name__)
        return alone()

    group = config.group_commit
    with ledger_errors_as_503():
        if group is None:
            return alone()
        return group.run(
            lambda uow: accept_in(uow, submission, now=config.now, new_id=config.new_id),
            alone_after,
        )


class _CommitNoted:
    """A unit of work that notes whether its commit was tried (and so may have happened)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.committing = False

    def __enter__(self) -> _CommitNoted:
        self._uow.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._uow.__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    def commit(self) -> None:
        self.committing = True
        self._uow.commit()


def _once_more_on_a_new_connection(
    work: Callable[[Callable[[], UnitOfWork]], T],
    uow_factory: Callable[[], UnitOfWork],
    *,
    idempotent: bool,
) -> T:
    """`work`, tried again once if its connection was found dead (the ledger's server was
    restarted; the pool is not checked before each use), unless it may have committed and
    a second try could store the report twice (no Idempotency-Key to recognise it by)."""
    opened: list[_CommitNoted] = []

    def noted() -> UnitOfWork:
        opened.append(_CommitNoted(uow_factory()))
        return cast("UnitOfWork", opened[-1])

    try:
        return work(noted)
    except DATABASE_ERRORS as error:
        if not lost_connection(error) or (not idempotent and any(uow.committing for uow in opened)):
            raise
        log.warning(LOST, type(error).__name__)
        return work(uow_factory)


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
    with ledger_errors_as_503():
        return _once_more_on_a_new_connection(
            lambda uow_factory: _read_status(uow_factory, report_id, client_id),
            config.uow_factory,
            idempotent=True,  # a read
        )


def _read_status(
    uow_factory: Callable[[], UnitOfWork], report_id: str, client_id: str
) -> dict[str, Any] | None:
    with uow_factory() as uow:
        report = uow.reports.get(report_id)
        if report is None or report.client_id != client_id:
            return None
        history = uow.reports.history(report_id)
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
