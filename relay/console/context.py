"""What every console page and action shares: the console's dependencies, the operator of
the request's session, rendering, reading a form, and refusing a request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ledger.alerts import OverdueLimits
from ledger.uow import UnitOfWork
from relay.console.accounts import Operator, SessionPolicy
from router.registry import Registry, default_registry
from router.routes import RouteTable

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 20


@dataclass(frozen=True)
class Console:
    uow: Callable[[], UnitOfWork]  # metadata only: no content keys
    now: Callable[[], datetime]
    policy: SessionPolicy
    secure_cookie: bool
    templates: Jinja2Templates
    routes: Callable[[], RouteTable]  # this API's table in force; raises when it has none
    routes_file: Path | None
    heartbeat_seconds: float
    overdue_limits: Callable[[], OverdueLimits]
    registry: Callable[[], Registry] = field(default=default_registry)
    reroute_wait_seconds: float = 5.0  # how long an action waits for a worker to act


class Refused(Exception):
    """The request is refused: `status` and one line for the person who made it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def operator_of(request: Request) -> Operator:
    """The operator of the request's session (the guard let it through only with one)."""
    operator = request.scope.get("state", {}).get("operator")
    if not isinstance(operator, Operator):
        raise Refused(403, "Log in first.")
    return operator


def base_of(request: Request) -> str:
    """Where the console is mounted (`/console`): every link and the cookies' path."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    values = {
        "base": base_of(request),
        "operator": request.scope.get("state", {}).get("operator"),
        **context,
    }
    console = console_of(request)
    return console.templates.TemplateResponse(request, template, values, status_code=status)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the first of each name). Anything else is refused as
    a POST without the form's CSRF token is (403)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise Refused(403, "This request did not come from a console page's form.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refused(413, "The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The form could not be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form
