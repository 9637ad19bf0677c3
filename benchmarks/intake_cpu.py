"""CPU time per accepted report in one process, by stage: the JSON Schema check, the whole
of `submission_from_body` (parse, schema, typed model, serialisations), the ledger write
(`accept_report` on PostgreSQL) and the whole intake application (`relay.wiring.intake_app`
called as ASGI, no HTTP server or client). Reports one after another, CPU from
`time.process_time` (every thread of this process), microseconds per report.

    .venv/bin/python -m benchmarks.intake_cpu --reports 3000

A fresh PostgreSQL database (`--admin-url`) is made and dropped. To compare two versions,
run each in turn, several times: the machine's other load moves every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.intake_capture import MELDINGSTYPE, _environment, request_body
from benchmarks.intake_ratio import TOKEN, fresh_database, relay_env


def per_call_us(function: Callable[[int], object], n: int) -> float:
    start = time.process_time()
    for i in range(n):
        function(i)
    return (time.process_time() - start) / n * 1e6


def measure(admin_url: str, n: int) -> dict[str, float]:
    from intake.schemas import schema_errors
    from intake.service import accept_report, submission_from_body
    from ledger.clock import utc_now
    from ledger.database import create_ledger_engine
    from ledger.migrate import upgrade
    from relay.bootstrap import bootstrap, load_settings
    from relay.wiring import intake_app

    body = request_body()
    raw = json.dumps(body).encode()
    document = body["bekymringsmelding"]
    schema_errors(MELDINGSTYPE, document)
    out = {
        "schema_errors_us": per_call_us(lambda _: schema_errors(MELDINGSTYPE, document), n),
        "submission_from_body_us": per_call_us(
            lambda i: submission_from_body("bench-portal", f"k{i}", raw), n
        ),
    }
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_database(admin_url) as url,
        _environment(relay_env(Path(workdir), url)),
    ):
        engine = create_ledger_engine(url)
        upgrade(engine, quiet=True)
        engine.dispose()
        container = bootstrap(load_settings(), pre_ping=False)  # as `relay api` builds it
        try:
            submission = submission_from_body("bench-portal", None, raw)
            keyed = [replace(submission, idempotency_key=f"ledger-{i}") for i in range(n + 10)]
            for warm in keyed[n:]:
                accept_report(container.uow, warm, now=utc_now)
            out["accept_report_us"] = per_call_us(
                lambda i: accept_report(container.uow, keyed[i], now=utc_now), n
            )
            out["app_us"] = asyncio.run(through_app(intake_app(container), raw, n))
        finally:
            container.engine.dispose()
    return {name: round(value, 1) for name, value in out.items()}


async def through_app(app: Any, raw: bytes, n: int) -> float:
    """CPU per POST /v1/reports, the app called directly; every answer must be a 202."""
    statuses: list[int] = []

    async def post(key: str) -> None:
        headers = [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"idempotency-key", key.encode()),
            (b"content-length", str(len(raw)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/reports",
            "raw_path": b"/v1/reports",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        messages = [{"type": "http.request", "body": raw, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)

    for _ in range(20):
        await post(f"warm-{uuid.uuid4()}")
    start = time.process_time()
    for i in range(n):
        await post(f"app-{i}-{uuid.uuid4()}")
    spent = (time.process_time() - start) / n * 1e6
    if set(statuses) != {202}:
        raise RuntimeError(f"intake answered {sorted(set(statuses))}")
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    print(json.dumps(measure(options.admin_url, options.reports)))


if __name__ == "__main__":
    main()
