"""`relay api --workers N`: the intake API in N processes sharing one port (uvicorn's own
supervisor starts them and starts again any that dies). Each builds its own container (its
own pool of ledger connections) when it starts; their request counts add up in /metrics
through prometheus_client's multiprocess mode, set up by the parent before they start."""

from __future__ import annotations

from fastapi import FastAPI

from relay.bootstrap import bootstrap
from relay.cli.options import settings_and_logging
from relay.wiring import intake_app


def worker_app() -> FastAPI:
    """One worker process's app (uvicorn calls this in the process: `factory=True`)."""
    settings = settings_and_logging()
    # No check of each pooled connection before use: intake tries again on a lost one.
    return intake_app(bootstrap(settings, pre_ping=False))
