"""A simulated rest-json case system: all three endpoints of the contract, its own storage.

It checks what a real one should check (signature, timestamp, Idempotency-Key, body) so
that tests against it prove the relay speaks the contract. Under `/_sandbox/` it shows
tests and the demo what it stored; a real case system has no such endpoints.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from deliverers.rest_json import signature_matches
from deliverers.sandbox.faults import Faults
from deliverers.sandbox.receive import problem, receive
from deliverers.sandbox.store import SandboxStore

CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class SandboxConfig:
    """`secret`: one signing secret for every recipient, or one per recipient id
    (several recipients may share one case system, each with its own secret)."""

    secret: str | Mapping[str, str]
    token: str | None = None
    database: Path | None = None
    faults: Faults = field(default_factory=Faults)

    def secret_for(self, recipient: object) -> str | None:
        if isinstance(self.secret, str):
            return self.secret
        return self.secret.get(recipient) if isinstance(recipient, str) else None


PROBLEM_JSON = "application/problem+json"


def _problem(status: int, title: str) -> JSONResponse:
    return JSONResponse(problem(status, title), status_code=status, media_type=PROBLEM_JSON)


def _utc_iso(value: str) -> str:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def create_sandbox_app(config: SandboxConfig, store: SandboxStore | None = None) -> FastAPI:
    app = FastAPI(title="Simulated case system (rest-json)", docs_url=None, redoc_url=None)
    store = store or SandboxStore(config.database)
    faults = config.faults
    app.state.store = store

    @app.middleware("http")
    async def down(request: Request, call_next: Any) -> Response:
        """With the `unavailable` fault every request of the protocol gets a 503, as from a
        gateway whose case system is down (the sandbox's own /_sandbox endpoints answer)."""
        if faults.unavailable and not request.url.path.startswith("/_sandbox"):
            return _problem(503, "the case system is down (simulated)")
        response: Response = await call_next(request)
        return response

    def authorised(request: Request) -> bool:
        if config.token is None:
            return True
        expected = f"Bearer {config.token}"
        return hmac.compare_digest(request.headers.get("authorization", ""), expected)

    @app.post("/bekymringsmeldinger")
    async def deliver(request: Request) -> Response:
        now = datetime.now(UTC)
        body = await request.body()
        if not authorised(request):
            return _problem(401, "missing or wrong bearer token")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _problem(415, "Content-Type must be application/json")
        timestamp = request.headers.get("x-relay-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > CLOCK_SKEW_SECONDS:
            return _problem(401, "X-Relay-Timestamp missing or too far from our clock")
        try:
            document = json.loads(body)
            report_id = document["id"]
            mottatt = _utc_iso(document["mottatt"])
            secret = config.secret_for(document["mottaker"]["recipient"])
        except (ValueError, KeyError, TypeError):
            return _problem(400, "body is not a report envelope")
        given = request.headers.get("x-relay-signature", "")
        if secret is None or not signature_matches(given, secret, timestamp, body):
            return _problem(401, "X-Relay-Signature does not match")
        if request.headers.get("idempotency-key") != report_id:
            return _problem(400, "Idempotency-Key must equal the body's id")
        if faults.latency_seconds:
            await asyncio.sleep(faults.latency_seconds)
        answer = receive(
            store,
            faults,
            report_id=report_id,
            body=body,
            mottatt=mottatt,
            mottaker=document["mottaker"],
            now=now,
        )
        store.record_post(report_id, answer.status, now, answer.note)
        media_type = PROBLEM_JSON if answer.status >= 400 else "application/json"
        return JSONResponse(answer.body, status_code=answer.status, media_type=media_type)

    @app.get("/bekymringsmeldinger/{report_id}")
    def read_back(report_id: str, request: Request) -> Response:
        if not authorised(request):
            return _problem(401, "missing or wrong bearer token")
        stored = store.get(report_id)
        if stored is None:
            return _problem(404, "not stored here")
        return JSONResponse(
            {"id": stored.id, "saksreferanse": stored.saksreferanse, "sha256": stored.sha256}
        )

    @app.get("/bekymringsmeldinger")
    def list_since(mottatt_fra: str, request: Request) -> Response:
        if not authorised(request):
            return _problem(401, "missing or wrong bearer token")
        try:
            since = _utc_iso(mottatt_fra)
        except ValueError:
            return _problem(400, "mottatt_fra must be an RFC 3339 time with an offset")
        return JSONResponse({"ids": store.ids_since(since)})

    @app.get("/_sandbox/reports")
    def stored_reports() -> Response:
        posts = store.post_counts()
        return JSONResponse(
            [
                {
                    "id": item.id,
                    "saksreferanse": item.saksreferanse,
                    "sha256": item.sha256,
                    "mottatt": item.mottatt,
                    "posts": posts.get(item.id, 0),
                }
                for item in store.all()
            ]
        )

    @app.delete("/_sandbox/reports/{report_id}")
    def lose(report_id: str) -> Response:
        """Lose a stored report, as a broken case system would (for reconciliation tests)."""
        if not store.forget(report_id):
            return _problem(404, "not stored here")
        return Response(status_code=204)

    @app.get("/_sandbox/posts")
    def posts() -> Response:
        """Every delivery attempt received: id, status answered, and the fault behind it."""
        return JSONResponse(store.posts())

    @app.get("/_sandbox/faults")
    def get_faults() -> Response:
        return JSONResponse(faults.as_dict())

    @app.put("/_sandbox/faults")
    async def put_faults(request: Request) -> Response:
        try:
            changes = json.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of faults")
            faults.update(changes)
        except ValueError as error:
            return _problem(400, str(error))
        return JSONResponse(faults.as_dict())

    @app.get("/_sandbox/reports/{report_id}/body")
    def stored_body(report_id: str) -> Response:
        body = store.body(report_id)
        if body is None:
            return _problem(404, "not stored here")
        return Response(body, media_type="application/json")

    return app
