"""The console's actions (POST), for operators: send a dead letter again (redrive), resolve
a dead letter or a HELD report by hand, and ask for a HELD report to be routed again, as
the routes decide or to a recipient the operator chooses (`router.choice`).

Each needs a valid session, its CSRF token and the operator role (`auth.checked`), and a
reason; each is recorded in the ledger as `operator:NAME` with that reason, by the same
functions the CLI uses. A reroute is carried out by a worker with its own routes table;
the action waits a few seconds for one, then shows the report.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from deliverers.dead_letters import redrive, resolve_manually
from ledger.lifecycle import State
from relay.console.auth import checked
from relay.console.context import Console, Refused, base_of, console_of, read_form
from relay.console.pages import report_response
from router.choice import Choice, check_choice
from router.held import Outcome, request_reroute, resolve_held, wait_for_workers
from router.routes import RouteTable

log = logging.getLogger(__name__)

MAX_REASON = 500

router = APIRouter()


class Unfit(Exception):
    """The action cannot be done as asked; shown on the report's page with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _reason(form: dict[str, str]) -> str:
    reason = " ".join(form.get("reason", "").split())
    if not reason:
        raise Unfit(400, "Say why: the reason is recorded in the ledger with your name.")
    if len(reason) > MAX_REASON:
        raise Unfit(400, f"The reason may have at most {MAX_REASON} characters.")
    return reason


def _table(console: Console) -> RouteTable:
    try:
        return console.routes()
    except Exception as error:
        raise Unfit(503, f"This API has no routes table to act with: {error}") from None


def _state(console: Console, report_id: str) -> State:
    with console.uow() as uow:
        report = uow.reports.get(report_id)
    if report is None:
        raise Refused(404, f"No report {report_id}.")
    return report.state


async def _act(request: Request, report_id: str, action: str) -> Response:
    form = await read_form(request)
    operator = checked(request, form, act=True)
    console = console_of(request)
    try:
        done = await run_in_threadpool(_ACTIONS[action], console, report_id, operator.name, form)
    except Unfit as unfit:
        return await report_response(
            request, report_id, error=unfit.message, status=unfit.status, form=form
        )
    log.info("console: %s by operator:%s on report %s", action, operator.name, report_id)
    return RedirectResponse(f"{base_of(request)}/reports/{report_id}?done={done}", 303)


def _redrive(console: Console, report_id: str, name: str, form: dict[str, str]) -> str:
    if _state(console, report_id) is not State.DEAD_LETTERED:
        raise Unfit(409, "It is not dead-lettered (any more): nothing was done.")
    result = redrive(
        console.uow, _table(console), report_id, console.now, operator=name, reason=_reason(form)
    )
    if result.state is None:
        raise Unfit(409, f"Nothing was done: {result.note}.")
    return "redriven"


def _resolve(console: Console, report_id: str, name: str, form: dict[str, str]) -> str:
    state, reason = _state(console, report_id), _reason(form)
    if state is State.HELD:
        held = resolve_held(
            console.uow, report_id, console.now, actor=f"operator:{name}", reason=reason
        )
        resolved = held.outcome is Outcome.RESOLVED
    elif state is State.DEAD_LETTERED:
        dead = resolve_manually(console.uow, report_id, console.now, operator=name, reason=reason)
        resolved = dead.state is not None
    else:
        resolved = False
    if not resolved:
        raise Unfit(409, "Only a HELD or dead-lettered report can be resolved: nothing was done.")
    return "resolved"


def _reroute(console: Console, report_id: str, name: str, form: dict[str, str]) -> str:
    reason = _reason(form)
    recipient = form.get("recipient", "").strip() or None
    force = form.get("force") == "on"
    if force and recipient is None:
        raise Unfit(400, "Force goes with a chosen recipient.")
    with console.uow() as uow:
        report = uow.reports.get(report_id)
    if report is None:
        raise Refused(404, f"No report {report_id}.")
    if recipient is not None:
        problem = check_choice(
            report.submitted_kommunenummer,
            recipient,
            _table(console).recipients,
            console.registry(),
            force=force,
        )
        if problem:
            raise Unfit(400, problem.replace("--force", "force").replace("--reason", "the reason"))
    asked = request_reroute(
        console.uow,
        report_id,
        console.now,
        actor=f"operator:{name}",
        reason=reason,
        choice=Choice(recipient, force),
    )
    if asked.outcome is not Outcome.PENDING:
        raise Unfit(409, "It is not HELD (any more): nothing was done.")
    [result] = wait_for_workers(console.uow, [asked], timeout_seconds=console.reroute_wait_seconds)
    return f"reroute-{result.outcome.value}"


_ACTIONS = {"redrive": _redrive, "resolve": _resolve, "reroute": _reroute}


@router.post("/reports/{report_id}/redrive")
async def redrive_action(request: Request, report_id: str) -> Response:
    return await _act(request, report_id, "redrive")


@router.post("/reports/{report_id}/resolve")
async def resolve_action(request: Request, report_id: str) -> Response:
    return await _act(request, report_id, "resolve")


@router.post("/reports/{report_id}/reroute")
async def reroute_action(request: Request, report_id: str) -> Response:
    return await _act(request, report_id, "reroute")
