"""RELAY_LOG_FORMAT=json: one JSON object a line, with the fields a line is about, from every
source a process has (its loggers, Python's warnings, uncaught exceptions in any thread)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

from relay.logs import JsonLines


def record(**extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord(
        {"name": "deliverers.proof", "levelname": "ERROR", "levelno": logging.ERROR}
    )
    made.msg, made.args = "report %s acknowledged by %s but not stored", ("r-1", "bergen")
    made.__dict__.update(extra)
    return made


def test_a_json_line_holds_time_level_logger_message_and_the_fields_passed() -> None:
    fields = {"report_id": "r-1", "recipient": "bergen", "state": "ROUTED"}
    line = JsonLines().format(record(**fields, event="false-receipt"))
    parsed = json.loads(line)
    assert list(parsed)[:5] == ["time", "level", "logger", "process", "message"]
    assert parsed["time"].endswith("+00:00")
    assert parsed["level"] == "ERROR"
    assert parsed["logger"] == "deliverers.proof"
    assert parsed["message"] == "report r-1 acknowledged by bergen but not stored"
    assert {key: parsed[key] for key in fields} == fields
    assert parsed["event"] == "false-receipt"


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    line = JsonLines().format(record(color_message="\x1b[36mreport\x1b[0m"))
    assert "color_message" not in json.loads(line)


def test_a_traceback_stays_inside_its_line() -> None:
    try:
        raise ValueError("no content here")
    except ValueError:
        failed = record(exc_info=sys.exc_info())
    line = JsonLines().format(failed)
    assert "\n" not in line
    assert "ValueError: no content here" in json.loads(line)["exc_info"]


PROGRAM = textwrap.dedent(
    """
    import logging, threading, warnings
    from uvicorn.config import LOGGING_CONFIG
    from relay.logs import configure_logging, uvicorn_log_config

    configure_logging("INFO", "json")
    assert uvicorn_log_config(LOGGING_CONFIG) is None
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("celery.worker").warning("multi\\nline")
    warnings.warn("a library is unhappy")
    def fail():
        raise RuntimeError("in a thread")
    thread = threading.Thread(target=fail, name="lane")
    thread.start()
    thread.join()
    raise KeyError("at the top")
    """
)


def test_warnings_and_uncaught_exceptions_are_json_lines_too() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["logger"] for line in lines] == [
        "uvicorn.error",
        "celery.worker",
        "py.warnings",
        "relay.uncaught",
        "relay.uncaught",
    ]
    assert "RuntimeError: in a thread" in lines[3]["exc_info"]
    assert "KeyError: 'at the top'" in lines[4]["exc_info"]


def test_text_stays_the_default() -> None:
    program = "from relay.logs import configure_logging, logs_json\n"
    program += "configure_logging('INFO')\nassert not logs_json()\n"
    program += "import logging; logging.getLogger('x').warning('plain')"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.rstrip().endswith("WARNING MainProcess x: plain")
