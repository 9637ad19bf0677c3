"""The console's pages (GET): overview, a report, dead letters, HELD reports, recipients.
Each reads the ledger in a thread (off the event loop) and renders a template."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from ledger.alerts import OverdueLimits
from ledger.records import DeadLetterKind
from ledger.report_ids import ReportIdError
from relay.console import overview as overview_data
from relay.console import recipients as recipients_data
from relay.console import reports as report_data
from relay.console.context import Console, Refused, base_of, console_of, render
from router.routes import RouteTable

NOTICES = {
    "redriven": "Sent again: it is routed with today's routes and delivered.",
    "resolved": "Marked RESOLVED_MANUALLY.",
    "reroute-routed": "Routed again by a worker, as asked.",
    "reroute-still-held": "A worker routed it again, and it is still HELD: see why below.",
    "reroute-pending": "Asked: no worker has acted on it yet. Reload this page to see when one"
    " has.",
}

router = APIRouter()


def table_or_none(console: Console) -> RouteTable | None:
    try:
        return console.routes()
    except Exception:  # no routes file for this API, or one it cannot use
        return None


def limits(console: Console) -> OverdueLimits:
    try:
        return console.overdue_limits()
    except Exception:
        return OverdueLimits(3600)


@router.get("/")
async def overview(request: Request) -> Response:
    console = console_of(request)

    def read() -> overview_data.Overview:
        table = table_or_none(console)
        routed = list(table.recipients) if table else []
        return overview_data.overview(console.uow, console.now(), limits(console), routed)

    found = await run_in_threadpool(read)
    return render(
        request,
        "overview.html",
        {"overview": found, "states": overview_data.BACKLOG, "now": console.now()},
    )


@router.get("/reports")
async def find(request: Request, id: str = "") -> Response:
    console = console_of(request)
    try:
        report_id = await run_in_threadpool(report_data.find_report, console.uow, id)
    except ReportIdError as error:
        raise Refused(404, str(error)) from None
    return RedirectResponse(f"{base_of(request)}/reports/{report_id}", 303)


@router.get("/reports/{report_id}")
async def report(request: Request, report_id: str, done: str = "") -> Response:
    return await report_response(request, report_id, notice=NOTICES.get(done))


async def report_response(
    request: Request,
    report_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    """The report's page, with a notice or an error from an action (and what was typed)."""
    console = console_of(request)

    def read() -> tuple[report_data.ReportPage | None, report_data.Choices | None]:
        page = report_data.report_page(console.uow, report_id)
        table = table_or_none(console)
        if page is None or table is None:
            return page, None
        kommunenummer = page.report.submitted_kommunenummer
        return page, report_data.choices(kommunenummer, table, console.registry())

    page, choices = await run_in_threadpool(read)
    if page is None:
        raise Refused(404, f"No report {report_id}.")
    values: dict[str, Any] = {
        "page": page,
        "report": page.report,
        "choices": choices,
        "notice": notice,
        "error": error,
        "form": form or {},
    }
    return render(request, "report.html", values, status)


@router.get("/dead-letters")
async def dead_letters(request: Request, recipient: str = "", reason: str = "") -> Response:
    console = console_of(request)
    kind = None
    if reason:
        try:
            kind = DeadLetterKind(reason)
        except ValueError:
            raise Refused(400, f"No kind of dead letter is called {reason!r}.") from None
    found = await run_in_threadpool(report_data.dead_letters, console.uow, recipient or None, kind)
    values = {"found": found, "recipient": recipient, "reason": reason, "limit": report_data.LIMIT}
    return render(request, "dead_letters.html", values)


@router.get("/held")
async def held(request: Request, reason: str = "") -> Response:
    console = console_of(request)
    found = await run_in_threadpool(report_data.held, console.uow, reason or None)
    values = {"found": found, "reason": reason, "limit": report_data.LIMIT}
    return render(request, "held.html", values)


@router.get("/recipients")
async def recipients(request: Request) -> Response:
    console = console_of(request)

    def read() -> recipients_data.RoutesView:
        return recipients_data.routes_view(
            console.uow,
            console.now(),
            console.heartbeat_seconds,
            console.routes_file,
            console.routes,
        )

    view = await run_in_threadpool(read)
    return render(request, "recipients.html", {"view": view})
