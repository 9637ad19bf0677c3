"""The Celery worker's command line follows RELAY_LOG_LEVEL: at INFO Celery logs every task
it receives and finishes, which an operator who asked for WARNING does not want."""

from __future__ import annotations

import pytest

from relay.celery_app import worker_argv


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
def test_the_worker_logs_at_the_level_asked_for(level: str) -> None:
    argv = worker_argv(2, pool="prefork", node="worker@host", log_level=level)
    assert [arg for arg in argv if arg.startswith("--loglevel")] == [f"--loglevel={level}"]
