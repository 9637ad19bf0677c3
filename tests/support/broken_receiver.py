"""A rest-json case system with switches that break one rule of the receiving contract each,
served on 127.0.0.1, for testing `relay check-recipient`. With no switch on it keeps the
whole contract (so a test that finds a failure knows which switch caused it).

It checks signatures its own way (the docs' "any of" receiver), not with the relay's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from relay.servers import RestartableServer


@dataclass(frozen=True)
class Breakage:
    accepts_any_signature: bool = False
    stores_refused: bool = False  # refuses a bad signature, but has stored the report first
    new_saksreferanse_on_repeat: bool = False  # stores a repeat again, under a new reference
    stores_other_bytes: bool = False  # keeps a re-serialised copy (read-back shows its hash)
    wrong_receipt_hash: bool = False  # the push's receipt names a hash that is not ours
    forgets: bool = False  # read-back finds nothing
    listing_omits: bool = False  # the list since a time leaves the report out
    fails: bool = False  # every endpoint answers 500


@dataclass(frozen=True)
class Stored:
    saksreferanse: str
    sha256: str
    mottatt: datetime


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _signed(header: str, timestamp: str, body: bytes, secret: str) -> bool:
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    expected = f"v1={digest.hexdigest()}"
    found = False
    for candidate in header.split(","):
        found |= hmac.compare_digest(candidate.strip(), expected)
    return found


def _problem(status: int) -> JSONResponse:
    return JSONResponse({"title": "no", "status": status}, status_code=status)


def broken_receiver_app(secret: str, breakage: Breakage) -> FastAPI:
    app = FastAPI()
    stored: dict[str, Stored] = {}  # async handlers: one event loop thread touches it

    def keep(report_id: str, body: bytes) -> Stored:
        kept = json.dumps(json.loads(body)).encode() if breakage.stores_other_bytes else body
        mottatt = datetime.fromisoformat(json.loads(body)["mottatt"])
        return Stored(f"SAK-{uuid.uuid4().hex[:10]}", _sha256(kept), mottatt)

    @app.post("/bekymringsmeldinger")
    async def push(request: Request) -> Response:
        if breakage.fails:
            return _problem(500)
        body = await request.body()
        headers = request.headers
        report_id = json.loads(body)["id"]
        signed = _signed(
            headers.get("x-relay-signature", ""), headers.get("x-relay-timestamp", ""), body, secret
        )
        if not signed and breakage.stores_refused:
            stored.setdefault(report_id, keep(report_id, body))
        if not signed and not breakage.accepts_any_signature:
            return _problem(401)
        if headers.get("idempotency-key") != report_id:
            return _problem(400)
        earlier = stored.get(report_id)
        if earlier is not None and not breakage.new_saksreferanse_on_repeat:
            return JSONResponse({"saksreferanse": earlier.saksreferanse, "sha256": earlier.sha256})
        fresh = keep(report_id, body)
        stored.setdefault(report_id, fresh)
        answered = _sha256(b"other bytes") if breakage.wrong_receipt_hash else _sha256(body)
        return JSONResponse({"saksreferanse": fresh.saksreferanse, "sha256": answered}, 201)

    @app.get("/bekymringsmeldinger/{report_id}")
    async def read_back(report_id: str) -> Response:
        if breakage.fails:
            return _problem(500)
        found = stored.get(report_id)
        if found is None or breakage.forgets:
            return _problem(404)
        return JSONResponse(
            {"id": report_id, "saksreferanse": found.saksreferanse, "sha256": found.sha256}
        )

    @app.get("/bekymringsmeldinger")
    async def listing(mottatt_fra: str) -> Response:
        if breakage.fails:
            return _problem(500)
        since = datetime.fromisoformat(mottatt_fra)
        ids = [key for key, value in stored.items() if value.mottatt >= since]
        return JSONResponse({"ids": [] if breakage.listing_omits else ids})

    return app


@contextmanager
def broken_receiver(secret: str, breakage: Breakage) -> Iterator[str]:
    """The base URL of a running receiver broken as `breakage` says."""
    server = RestartableServer(broken_receiver_app(secret, breakage))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
