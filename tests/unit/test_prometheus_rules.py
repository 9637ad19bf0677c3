"""deploy/prometheus: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), each rule is tested firing and quiet, names only metrics the relay
exports, and tells an operator which `relay` command to run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.monitoring import metric_names, promtool, queryable_names, resolve

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = yaml.safe_load((PROMETHEUS / "alerts.yaml").read_text("utf-8"))
ALERTS: list[dict[str, Any]] = [rule for group in RULES["groups"] for rule in group["rules"]]
RULE_TESTS = yaml.safe_load((PROMETHEUS / "alerts.test.yaml").read_text("utf-8"))
TEMPLATE = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")
EXAMPLE_LABELS = {"recipient": "bergen", "reason": "rejected", "role": "worker"}


def run_promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *arguments],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    rules = run_promtool("check", "rules", "alerts.yaml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = run_promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_rules_pass_their_promtool_unit_tests() -> None:
    result = run_promtool("test", "rules", "alerts.test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_is_tested_both_firing_and_quiet() -> None:
    cases = [case for test in RULE_TESTS["tests"] for case in test.get("alert_rule_test", [])]
    for alert in ALERTS:
        name = alert["alert"]
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == name}
        assert outcomes == {True, False}, f"{name}: tested firing and quiet? {outcomes}"


@pytest.mark.parametrize("alert", ALERTS, ids=[alert["alert"] for alert in ALERTS])
def test_every_rule_names_only_metrics_the_relay_exports(alert: dict[str, Any]) -> None:
    names = metric_names(alert["expr"])
    assert names, alert["expr"]
    assert names <= queryable_names(), names - queryable_names()


@pytest.mark.parametrize("alert", ALERTS, ids=[alert["alert"] for alert in ALERTS])
def test_every_alert_says_what_happened_and_what_to_run(alert: dict[str, Any]) -> None:
    assert alert["labels"]["severity"] in {"critical", "warning"}
    annotations = alert["annotations"]
    assert set(annotations) == {"summary", "description", "command"}
    assert len(annotations["description"]) > len(annotations["summary"])
    assert annotations["command"].startswith("relay ")


def commands(annotation: str) -> list[list[str]]:
    """The `relay …` commands in a `command` annotation: separated by ";", each perhaps
    led by "or" and followed by a note in parentheses; placeholders in capitals."""
    text = TEMPLATE.sub(lambda match: EXAMPLE_LABELS[match.group(1)], annotation)
    found = []
    for part in text.split(";"):
        words = re.sub(r"\(.*\)\s*$", "", part).split()
        if words[:1] == ["or"]:
            words = words[1:]
        assert words[0] == "relay", part
        found.append(words[1:])
    return found


def test_commands_are_read_as_written() -> None:
    assert commands("relay health; or relay dlq show REPORT_ID (on its host)") == [
        ["health"],
        ["dlq", "show", "REPORT_ID"],
    ]
    assert commands("relay held list --recipient {{ $labels.recipient }}") == [
        ["held", "list", "--recipient", "bergen"]
    ]


@pytest.mark.parametrize("alert", ALERTS, ids=[alert["alert"] for alert in ALERTS])
def test_every_command_an_alert_names_exists_with_those_options(alert: dict[str, Any]) -> None:
    for arguments in commands(alert["annotations"]["command"]):
        resolve(arguments)
