"""How every relay process logs: text lines (the default), or one JSON object a line
(`RELAY_LOG_FORMAT=json`) for a log pipeline. In JSON, every line is JSON: our loggers',
uvicorn's, Celery's and billiard's, Python's warnings, and uncaught exceptions.

A JSON line holds time, level, logger, process and message, then what the code passed in
`extra=`: `report_id`, `recipient`, `state` and `event` where a line is about a report
(never its content), and a traceback as `exc_info`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from types import TracebackType
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"

uncaught = logging.getLogger("relay.uncaught")


class JsonLines(JsonFormatter):
    """time (RFC 3339, UTC), level, logger, process, message, then the `extra=` fields."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{processName}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "processName": "process"},
            timestamp="time",
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        log_data.pop("color_message", None)  # uvicorn's message again, with terminal colours
        return {"time": log_data.pop("time"), **log_data}


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """The root logger's one handler, on stderr; every other logger propagates to it."""
    if log_format == "text":
        logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def logs_json() -> bool:
    """Whether this process was configured for JSON lines."""
    return any(isinstance(h.formatter, JsonLines) for h in logging.getLogger().handlers)


def uvicorn_log_config(default: dict[str, Any]) -> dict[str, Any] | None:
    """What to give uvicorn as `log_config`: its own (text) setup, or None for JSON, so that
    its loggers propagate to the root's JSON handler."""
    return None if logs_json() else default


def celery_in_json() -> None:
    """What Celery would write past logging, in JSON: billiard's logger (Celery's pool) does
    not propagate, so it is sent through the root's handler; the worker's signal handlers
    print "worker: Warm shutdown (MainProcess)" with `os.write` (no lock a signal could
    find taken), so they write a JSON line the same way. Called from Celery's
    `setup_logging` signal, whose receiver tells Celery to leave logging alone."""
    from billiard import util
    from celery.apps import worker

    pool_logger = util.get_logger()
    pool_logger.handlers.clear()
    pool_logger.propagate = True
    pool_logger.setLevel(logging.ERROR)
    worker.safe_say = _say_json


def _say_json(message: str, file: TextIO | None = None) -> None:
    said = logging.makeLogRecord(
        {"name": "celery.apps.worker", "levelname": "INFO", "levelno": logging.INFO}
    )
    said.msg = message.strip()
    line = (JsonLines().format(said) + "\n").encode()
    with contextlib.suppress(OSError, ValueError, AttributeError):  # never stops the caller
        os.write((file or sys.__stderr__ or sys.stderr).fileno(), line)


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    uncaught.critical("uncaught %s", kind.__name__, exc_info=(kind, error, traceback))


def _log_uncaught_in_thread(hook: threading.ExceptHookArgs) -> None:
    if hook.exc_value is None or issubclass(hook.exc_type, SystemExit):
        return
    uncaught.critical(
        "uncaught %s in thread %s",
        hook.exc_type.__name__,
        hook.thread.name if hook.thread else "?",
        exc_info=(hook.exc_type, hook.exc_value, hook.exc_traceback),
    )
