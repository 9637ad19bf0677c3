"""Who may use the console: the guard in front of every page and action, the login and
logout pages, and the CSRF check every POST passes.

- Every console URL but the login page and the style sheet needs a valid session: without
  one a GET is sent to the login page and anything else is refused (403), before any
  route, so a page cannot be added without it.
- The session cookie holds a random token (the ledger holds its SHA-256): HttpOnly,
  SameSite=Strict, scoped to the console's path, Secure when RELAY_CONSOLE_SECURE_COOKIE
  is set or the request came over HTTPS.
- Every POST carries the session's CSRF token in a hidden field, compared in constant time;
  the login form carries one of its own, matched with a short-lived cookie. A POST whose
  Origin header names another host is refused as well.
- Actions need the operator role (`checked(..., act=True)`); a viewer only looks.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection

from relay.console.accounts import Operator, log_in, log_out, session_for
from relay.console.context import (
    Console,
    Refused,
    base_of,
    console_of,
    operator_of,
    read_form,
    render,
)

log = logging.getLogger(__name__)

SESSION_COOKIE = "relay_console"
LOGIN_COOKIE = "relay_console_login"
OPEN = ("/login", "/static/console.css")  # the only URLs that need no session
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        b" frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
FAILED = "Wrong name or password, or too many failed attempts: wait a minute and try again."

router = APIRouter()


class Guard:
    """ASGI middleware: security headers on every answer; a valid session for every URL
    but `OPEN` (its operator in `scope["state"]["operator"]`)."""

    def __init__(self, app: Any, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        root = str(scope.get("root_path", "")).rstrip("/")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        if path in OPEN:
            await self.app(scope, receive, with_headers)
            return
        token = HTTPConnection(scope).cookies.get(SESSION_COOKIE, "")
        console = self.console
        operator = (
            await run_in_threadpool(session_for, console.uow, token, console.now(), console.policy)
            if token
            else None
        )
        if operator is None:
            await _no_session(scope, root, path)(scope, receive, with_headers)
            return
        scope.setdefault("state", {})["operator"] = operator
        await self.app(scope, receive, with_headers)


def _no_session(scope: Any, root: str, path: str) -> Response:
    if scope["method"] in ("GET", "HEAD"):
        query = scope.get("query_string", b"").decode("latin-1")
        wanted = path + (f"?{query}" if query else "")
        response: Response = RedirectResponse(f"{root}/login?next={quote(wanted)}", 303)
    else:
        response = HTMLResponse(
            "<!doctype html><title>Log in first</title><p>Log in first.</p>", 403
        )
    forget(response, SESSION_COOKIE, root)
    return response


def forget(response: Response, cookie: str, base: str) -> None:
    response.delete_cookie(cookie, path=base or "/", httponly=True, samesite="strict")


def checked(request: Request, form: dict[str, str], *, act: bool) -> Operator:
    """The operator of a POST with the session's CSRF token, from this site (and, with
    `act`, with the operator role); else `Refused` (403)."""
    operator = operator_of(request)
    _same_origin(request)
    if not hmac.compare_digest(form.get("csrf_token", "").encode(), operator.csrf_token.encode()):
        raise Refused(403, "This form has expired or did not come from the console: reload it.")
    if act and not operator.can_act:
        raise Refused(403, f"{operator.name} is a viewer: viewers see, operators act.")
    return operator


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Refused(403, "This form did not come from the console.")


def _secure(request: Request) -> bool:
    return console_of(request).secure_cookie or request.url.scheme == "https"


def _next(base: str, wanted: str) -> str:
    """Where to go after logging in: a console page, never another site."""
    if wanted.startswith("/") and not wanted.startswith("//") and "\\" not in wanted:
        return base + wanted
    return base + "/"


def _login_page(request: Request, wanted: str, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", {"login_token": token, "next": wanted, "error": error}, status
    )
    base = base_of(request) or "/"
    response.set_cookie(
        LOGIN_COOKIE, token, max_age=900, path=base, httponly=True, samesite="strict",
        secure=_secure(request),
    )  # fmt: skip
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return _login_page(request, next, None, 200)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    _same_origin(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(
        form.get("login_token", "").encode(), expected.encode()
    ):
        raise Refused(403, "This login form has expired: load the login page again.")
    console = console_of(request)
    name = form.get("name", "").strip()
    found = await run_in_threadpool(
        log_in, console.uow, name, form.get("password", ""), console.now(), console.policy
    )
    wanted = form.get("next", "/")
    if found is None:
        client = request.client.host if request.client else "?"
        log.warning("console: a login failed (from %s)", client)
        return _login_page(request, wanted, FAILED, 401)
    token, operator = found
    log.info("console: %s logged in as %s", operator.name, operator.role.value)
    base = base_of(request)
    response = RedirectResponse(_next(base, wanted), 303)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(console.policy.lifetime_seconds), path=base or "/",
        httponly=True, samesite="strict", secure=_secure(request),
    )  # fmt: skip
    forget(response, LOGIN_COOKIE, base)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    operator = checked(request, await read_form(request), act=False)
    console = console_of(request)
    await run_in_threadpool(log_out, console.uow, operator)
    base = base_of(request)
    response = RedirectResponse(f"{base}/login", 303)
    forget(response, SESSION_COOKIE, base)
    return response
