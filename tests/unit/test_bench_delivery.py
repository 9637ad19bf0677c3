"""The pure parts of the delivery ratio benchmark: the no-op worker's argv and the summary."""

from __future__ import annotations

import pytest

from benchmarks.celery_noop import noop_argv
from benchmarks.delivery_ratio import summary
from relay.celery_app import worker_argv


def test_the_noop_worker_defaults_to_relay_worker_on_the_route_queue() -> None:
    expected = worker_argv(
        4, pool="prefork", node="bench-noop@%h", queues=["route"], quiet=True, log_level="INFO"
    )
    assert noop_argv(["4"], "INFO") == expected


def test_the_noop_worker_takes_relay_runs_pool_queues_and_log_level() -> None:
    argv = noop_argv(["2", "threads", "route,deliver.rest-json"], "WARNING")
    assert "--pool=threads" in argv
    assert "--concurrency=2" in argv
    assert "--queues=route,deliver.rest-json" in argv
    assert "--loglevel=WARNING" in argv


def test_the_limit_is_two_noop_tasks_a_report_at_the_median_of_the_samples() -> None:
    pipeline = {"reports": 300, "reports_per_second": 20.0}
    result = summary("embedded", 4, [pipeline], [130.0, 100.0, 90.0])
    assert result["limit_reports_per_second"] == 50.0
    assert result["noop_tasks_per_second_samples"] == [130.0, 100.0, 90.0]
    assert result["ratio"] == pytest.approx(0.4)
    assert result["shape"] == "embedded"
    assert result["reports"] == 300


def test_no_limit_measured_gives_no_ratio() -> None:
    assert summary("split", 4, [{"reports_per_second": 20.0}], [0.0])["ratio"] == 0.0


def test_the_pipeline_figure_is_its_median_draw_with_every_rate_kept() -> None:
    draws = [
        {"reports_per_second": 90.0, "waits_in_ledger": 1},
        {"reports_per_second": 60.0, "waits_in_ledger": 2},
        {"reports_per_second": 75.0, "waits_in_ledger": 3},
    ]
    result = summary("split", 4, draws, [300.0])
    assert result["reports_per_second"] == 75.0
    assert result["waits_in_ledger"] == 3  # the median draw's own figures, not a mix
    assert result["reports_per_second_samples"] == [90.0, 60.0, 75.0]
    assert result["ratio"] == pytest.approx(0.5)
