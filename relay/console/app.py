"""The console as an ASGI app of its own, mounted under `/console` on the intake API
(`relay api`, `relay run`): its dependencies from the container, its templates and style
sheet (package data), the guard (`auth.Guard`) and its error pages."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.uow import UnitOfWork
from relay.bootstrap import Container
from relay.console import actions, auth, pages
from relay.console.accounts import SessionPolicy
from relay.console.context import Console, Refused, render

log = logging.getLogger(__name__)

MOUNT = "/console"


def console_app(container: Container) -> FastAPI:
    settings = container.settings
    console = Console(
        uow=lambda: UnitOfWork(container.engine),  # no content keys: metadata only
        now=container.now,
        policy=SessionPolicy(
            lifetime_seconds=settings.console_session_seconds,
            idle_seconds=settings.console_idle_seconds,
        ),
        secure_cookie=settings.console_secure_cookie,
        templates=templates(),
        routes=lambda: container.routes,
        routes_file=settings.routes_file,
        heartbeat_seconds=settings.heartbeat_seconds,
        overdue_limits=container.overdue_limits,
    )
    return create_console_app(console)


def mount_console(app: FastAPI, container: Container) -> FastAPI:
    app.mount(MOUNT, console_app(container))
    return app


def create_console_app(console: Console) -> FastAPI:
    app = FastAPI(title="bekymring-relay console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    app.mount("/static", StaticFiles(packages=[("relay.console", "static")]), name="static")
    for module in (auth, pages, actions):
        app.include_router(module.router)
    app.add_middleware(auth.Guard, console=console)
    _error_pages(app)
    return app


def templates() -> Jinja2Templates:
    environment = Environment(
        loader=PackageLoader("relay.console", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["at"] = at
    environment.filters["ago"] = ago
    return Jinja2Templates(env=environment)


def at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "–"


def ago(moment: datetime | None, now: datetime) -> str:
    """How long ago, for people: 45 s, 12 min, 3.5 h, 2.0 d."""
    if moment is None:
        return "–"
    seconds = max((now - moment).total_seconds(), 0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def _refused(request: Request, refused: Refused) -> Response:
        return render(request, "error.html", {"message": refused.message}, refused.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        message = {404: "No such page.", 405: "Not here."}.get(error.status_code, "Refused.")
        return render(request, "error.html", {"message": message}, error.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _error: RequestValidationError) -> Response:
        return render(request, "error.html", {"message": "A malformed request."}, 400)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, error: Exception) -> Response:
        """A bug. Logged by type only, as the intake API does."""
        log.error("console: unexpected %s while answering a request", type(error).__name__)
        return HTMLResponse("<!doctype html><title>Error</title><p>Internal error.</p>", 500)
