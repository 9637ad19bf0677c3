"""deploy/grafana: the dashboard's every query names only metrics the relay exports and
parses as PromQL; it shows what operators asked for; its data source and variables are
the provisioned ones."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.monitoring import (
    EXPORTED_METRICS,
    HISTOGRAMS,
    metric_names,
    promtool,
    queryable_names,
)

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD: dict[str, Any] = json.loads((GRAFANA / "relay.json").read_text("utf-8"))
PANELS = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]
EXPRESSIONS = [(panel["title"], t["expr"]) for panel in PANELS for t in panel["targets"]]
# Grafana's own variables, and a value of each for a query Prometheus can parse.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "6h"}


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("relay_reports", {"relay_reports"}),
        (
            'max by (recipient) (relay_held_reports{recipient=~"$recipient"}) > 0',
            {"relay_held_reports"},
        ),
        (
            "histogram_quantile(0.9, sum by (le) (rate(relay_intake_duration_seconds_bucket[5m])))",
            {"relay_intake_duration_seconds_bucket"},
        ),
        ("rate(x_total[$__rate_interval]) / on (job) group_left up offset 1h", {"x_total", "up"}),
        ('avg_over_time((max by (recipient) (b{l="and"}))[15m:1m]) >= 0.75', {"b"}),
        ("a unless b or absent(c)", {"a", "b", "c"}),
    ],
)
def test_metric_names_are_the_series_an_expression_selects(
    expression: str, names: set[str]
) -> None:
    assert metric_names(expression) == names


@pytest.mark.parametrize(
    ("panel", "expression"),
    EXPRESSIONS,
    ids=[f"{n}-{title}" for n, (title, _) in enumerate(EXPRESSIONS)],
)
def test_every_query_names_only_metrics_the_relay_exports(panel: str, expression: str) -> None:
    names = metric_names(expression)
    assert names, f"{panel}: no metric in {expression}"
    assert names <= queryable_names(), f"{panel}: {names - queryable_names()}"


def test_the_dashboard_shows_every_exported_metric() -> None:
    shown = set().union(*(metric_names(expression) for _, expression in EXPRESSIONS))
    for metric in EXPORTED_METRICS:
        series = {f"{metric}_{part}" for part in ("bucket", "sum", "count")}
        assert metric in shown or (metric in HISTOGRAMS and series & shown), metric


@pytest.mark.parametrize(
    ("metric", "by_recipient"),
    [
        ("relay_reports", True),  # backlog
        ("relay_oldest_unverified_seconds", True),
        ("relay_delivery_attempts_total", True),  # outcomes
        ("relay_breaker_open", True),
        ("relay_intake_requests_total", False),  # intake rate
        ("relay_intake_duration_seconds_bucket", False),  # intake latency
        ("relay_false_receipt_detection_seconds_bucket", False),  # detection latency
    ],
)
def test_the_dashboard_has_the_panels_operators_asked_for(metric: str, by_recipient: bool) -> None:
    panels = [p for p in PANELS if any(metric in metric_names(t["expr"]) for t in p["targets"])]
    assert panels, metric
    if by_recipient:
        assert any(
            "by (recipient" in t["expr"] and '"$recipient"' in t["expr"]
            for panel in panels
            for t in panel["targets"]
        ), f"{metric} is not shown per recipient"


def test_panels_use_the_provisioned_data_source_and_defined_variables() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text("utf-8")
    )
    uids = {source["uid"] for source in provisioned["datasources"]}
    variables = {variable["name"] for variable in DASHBOARD["templating"]["list"]}
    for variable in DASHBOARD["templating"]["list"]:
        assert variable["datasource"]["uid"] in uids
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in PANELS:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids, panel["title"]
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval", "__range"}
            assert used <= variables, f"{panel['title']}: undefined {used - variables}"


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    """promtool parses each query as the expression of a recording rule."""
    rules = []
    for number, (_, expression) in enumerate(EXPRESSIONS):
        for variable, value in GRAFANA_VARIABLES.items():
            expression = expression.replace(variable, value)
        expression = expression.replace("$recipient", ".*")
        rules.append({"record": f"dashboard:query_{number}", "expr": expression})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), "utf-8")
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout
