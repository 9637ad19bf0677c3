"""Celery task events (RELAY_TASK_EVENTS, on by default) for Flower, and `relay flower`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.celery_app import create_celery
from relay.cli import main
from relay.settings import Settings


@pytest.mark.parametrize("events", [True, False])
def test_workers_send_task_events_unless_told_not_to(tmp_path: Path, events: bool) -> None:
    settings = Settings(data_dir=tmp_path, task_events=events)
    assert Settings(data_dir=tmp_path).task_events is True
    conf = create_celery(settings).conf
    assert conf.worker_send_task_events is events
    assert conf.task_send_sent_event is events


def test_a_bad_value_of_the_new_settings_stops_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAY_TASK_EVENTS", "sometimes")
    monkeypatch.setenv("RELAY_LOG_FORMAT", "xml")
    monkeypatch.setenv("RELAY_ALERT_WEBHOOK_FORMAT", "slack")
    result = CliRunner().invoke(main, ["health"])
    assert result.exit_code == 2, result.output
    for name in ("RELAY_TASK_EVENTS", "RELAY_LOG_FORMAT", "RELAY_ALERT_WEBHOOK_FORMAT"):
        assert name in result.output


@pytest.mark.skipif(importlib.util.find_spec("flower") is not None, reason="Flower is installed")
def test_relay_flower_says_how_to_install_flower_in_one_line() -> None:
    result = CliRunner().invoke(main, ["flower", "--port=5555"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "relay: Flower is not installed; install it beside the relay: pip install flower"
    )
