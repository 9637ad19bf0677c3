#!/usr/bin/env python3
"""A receiver for bekymring-relay's rest-json contract, to run and to start from.

It offers the three endpoints of docs/case-system-rest-json.md (push, read-back, listing)
and checks what a case system should: the bearer token (if given), the Content-Type, the
timestamp (5 minutes either way), the signature (any of the header's signatures against
any secret held, so a secret can be rotated without a gap), and that the Idempotency-Key
is the body's id. Python's standard library only (3.11 or later).

    export RECEIVER_SECRET='the signing secret shared with the relay'
    python docs/examples/receiver.py --port 8181 --secret-env RECEIVER_SECRET

It keeps reports in memory. A real case system answers 201 only once the report is
committed in its own storage, and, like this one, never logs a report's content.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

COLLECTION = "/bekymringsmeldinger"
CLOCK_SKEW_SECONDS = 300
MAX_BODY_BYTES = 10 * 1024 * 1024

log = logging.getLogger("receiver")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=<hex>`: HMAC-SHA256 with the secret over `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def signature_accepted(header: str, timestamp: str, body: bytes, secrets: list[str]) -> bool:
    """Whether any `v1=` signature in the header was made with any of our secrets.

    Every pair is compared in constant time, and the loop never stops early."""
    given = [part.strip() for part in header.split(",") if part.strip().startswith("v1=")]
    found = False
    for secret in secrets:
        expected = signature(secret, timestamp, body)
        for candidate in given:
            found |= hmac.compare_digest(candidate, expected)
    return found


def rfc3339(value: object) -> datetime:
    """A time with a UTC offset (`…Z` or `…+01:00`); ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no UTC offset")
    return moment


@dataclass(frozen=True)
class Stored:
    id: str
    saksreferanse: str
    sha256: str
    mottatt: datetime
    body: bytes


class Store:
    """Reports by id, in memory. Yours is your case system's database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, Stored] = {}

    def put(self, report_id: str, body: bytes, mottatt: datetime) -> tuple[Stored, bool]:
        """Store once per id; (what is stored, whether it was stored now)."""
        with self._lock:
            if report_id in self._reports:
                return self._reports[report_id], False
            reference = f"SAK-{uuid.uuid4().hex[:12].upper()}"
            digest = hashlib.sha256(body).hexdigest()
            stored = Stored(report_id, reference, digest, mottatt, body)
            self._reports[report_id] = stored
            return stored, True

    def get(self, report_id: str) -> Stored | None:
        with self._lock:
            return self._reports.get(report_id)

    def ids_since(self, since: datetime) -> list[str]:
        with self._lock:
            return sorted(r.id for r in self._reports.values() if r.mottatt >= since)


class Refused(Exception):
    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secrets: list[str], token: str | None) -> None:
        super().__init__(address, Receiver)
        self.secrets = secrets
        self.token = token
        self.store = Store()


class Receiver(BaseHTTPRequestHandler):
    server: ReceiverServer

    def do_POST(self) -> None:
        body = self._body()  # read first, so that a refusal leaves the connection clean
        try:
            if body is None:
                raise Refused(413, f"send a Content-Length of at most {MAX_BODY_BYTES} bytes")
            if urlsplit(self.path).path != COLLECTION:
                raise Refused(404, "no such endpoint")
            self._authorise()
            report_id, mottatt = self._check_push(body)
        except Refused as refused:
            self._problem(refused)
            return
        stored, created = self.server.store.put(report_id, body, mottatt)
        status = 201 if created else 200
        self._json(status, {"saksreferanse": stored.saksreferanse, "sha256": stored.sha256})
        log.info("report %s %s (%d)", report_id, "stored" if created else "replayed", status)

    def do_GET(self) -> None:
        self._body()
        url = urlsplit(self.path)
        try:
            self._authorise()
            if url.path == COLLECTION:
                self._json(200, {"ids": self.server.store.ids_since(self._since(url.query))})
            elif url.path.startswith(COLLECTION + "/"):
                self._read_back(unquote(url.path[len(COLLECTION) + 1 :]))
            else:
                raise Refused(404, "no such endpoint")
        except Refused as refused:
            self._problem(refused)

    def _check_push(self, body: bytes) -> tuple[str, datetime]:
        """The report's id and `mottatt`, once every check of the contract has passed."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Refused(415, "Content-Type must be application/json")
        timestamp = self.headers.get("X-Relay-Timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > CLOCK_SKEW_SECONDS:
            raise Refused(401, "X-Relay-Timestamp missing or more than 5 minutes off")
        header = self.headers.get("X-Relay-Signature", "")
        if not signature_accepted(header, timestamp, body, self.server.secrets):
            raise Refused(401, "X-Relay-Signature does not match")
        try:
            envelope = json.loads(body)
            report_id, mottatt = envelope["id"], rfc3339(envelope["mottatt"])
            if not isinstance(report_id, str) or not isinstance(envelope["mottaker"], dict):
                raise ValueError("id or mottaker of the wrong type")
            if not isinstance(envelope["bekymringsmelding"], dict):
                raise ValueError("bekymringsmelding is not an object")
        except (ValueError, KeyError, TypeError):
            raise Refused(400, "the body is not a report envelope") from None
        if self.headers.get("Idempotency-Key") != report_id:
            raise Refused(400, "Idempotency-Key must equal the body's id")
        return report_id, mottatt

    def _read_back(self, report_id: str) -> None:
        stored = self.server.store.get(report_id)
        if stored is None:
            raise Refused(404, "not stored here")
        self._json(
            200, {"id": stored.id, "saksreferanse": stored.saksreferanse, "sha256": stored.sha256}
        )

    def _since(self, query: str) -> datetime:
        values = parse_qs(query).get("mottatt_fra", [])
        try:
            return rfc3339(values[0] if len(values) == 1 else None)
        except ValueError:
            raise Refused(400, "mottatt_fra must be one RFC 3339 time with an offset") from None

    def _authorise(self) -> None:
        if self.server.token is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.server.token}".encode()):
            raise Refused(401, "missing or wrong bearer token")

    def _body(self) -> bytes | None:
        """The request body; None (and the connection closed) when it is too large to read."""
        length = self.headers.get("Content-Length", "0")
        size = int(length) if length.isdigit() else -1
        if not 0 <= size <= MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(size)

    def _problem(self, refused: Refused) -> None:
        problem = {"type": "about:blank", "title": refused.title, "status": refused.status}
        self._json(refused.status, problem, "application/problem+json")
        log.warning(
            "%s %s refused (%d): %s", self.command, self.path, refused.status, refused.title
        )

    def _json(self, status: int, value: Any, media_type: str = "application/json") -> None:
        payload = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own access log is off: the lines above name ids, never content."""


def main() -> None:
    parser = argparse.ArgumentParser(description="A receiver for the relay's rest-json pushes.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8181, help="port to listen on")
    parser.add_argument(
        "--secret-env",
        action="append",
        required=True,
        metavar="NAME",
        help="env var holding a signing secret; give it twice while switching secrets",
    )
    parser.add_argument("--token-env", metavar="NAME", help="env var holding a bearer token")
    args = parser.parse_args()
    secrets = [os.environ.get(name, "") for name in args.secret_env]
    for name, secret in zip(args.secret_env, secrets, strict=True):
        if not secret:
            parser.error(f"environment variable {name} is not set (it holds a signing secret)")
    token = os.environ.get(args.token_env, "") if args.token_env else None
    if token == "":
        parser.error(f"environment variable {args.token_env} is not set (it holds the token)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        server = ReceiverServer((args.host, args.port), secrets, token)
    except OSError as error:
        parser.error(f"cannot listen on {args.host}:{args.port} ({error.strerror})")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    host, port = server.server_address[:2]
    log.info("receiving on http://%s:%s%s with %d secret(s)", host, port, COLLECTION, len(secrets))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
