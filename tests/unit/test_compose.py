"""compose.yaml cannot be started here (no Docker engine), so check what can be checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tests.support.monitoring import resolve

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
RELAY_SERVICES = [
    name for name, service in SERVICES.items() if service.get("command", [""])[0] == "relay"
]


def test_resolve_refuses_what_the_cli_refuses() -> None:
    with pytest.raises(click.UsageError):
        resolve(["launch"])
    with pytest.raises(click.NoSuchOption):
        resolve(["worker", "--colour", "blue"])


def test_the_production_stack_has_its_parts() -> None:
    assert {"postgres", "redis", "api", "worker", "scheduler", "casesystem"} <= set(SERVICES)


@pytest.mark.parametrize("service", RELAY_SERVICES)
def test_every_relay_command_in_compose_exists_with_valid_options(service: str) -> None:
    command = SERVICES[service]["command"]
    assert resolve(command[1:]).name in command


def test_every_service_that_runs_our_image_runs_a_relay_command() -> None:
    for name, service in SERVICES.items():
        if "build" in service or service.get("image", "").startswith("bekymring-relay"):
            assert name in RELAY_SERVICES, name


def test_redis_keeps_an_append_only_file() -> None:
    command = SERVICES["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_the_stack_uses_postgres_and_redis() -> None:
    environment = SERVICES["api"]["environment"]
    assert environment["RELAY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["RELAY_BROKER_URL"].startswith("redis://")


ROUTES = "deploy/routes.compose.yaml"


def test_the_compose_routes_file_serves_every_municipality() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        # Its secret is the compose stack's, not this environment's.
        [
            sys.executable,
            "-m",
            "relay",
            "routes",
            "check",
            "--no-secrets",
            "--file",
            ROUTES,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", ["worker", "scheduler"])
def test_workers_and_schedulers_are_restarted_and_probed_for_liveness(service: str) -> None:
    definition = SERVICES[service]
    assert definition["restart"] == "always"
    probe = definition["healthcheck"]["test"]
    assert probe[:2] == ["CMD", "relay"]
    assert resolve(probe[2:]).name == "health"
    assert probe[-1] == service


def bind_mounts(service: str) -> dict[str, Path]:
    """A service's bind mounts: where in the container -> the repository's file or folder."""
    mounts = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def test_prometheus_and_grafana_watch_the_stack() -> None:
    assert {"prometheus", "grafana"} <= set(SERVICES)
    assert SERVICES["grafana"]["depends_on"] == ["prometheus"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_file_a_service_mounts_is_in_the_repository(service: str) -> None:
    for target, source in bind_mounts(service).items():
        assert source.exists(), f"{service} mounts {source} at {target}: it does not exist"


def test_prometheus_is_given_its_config_and_every_rule_file_it_names() -> None:
    mounts = bind_mounts("prometheus")
    command = SERVICES["prometheus"]["command"]
    config_path = next(a.split("=", 1)[1] for a in command if a.startswith("--config.file="))
    config = yaml.safe_load(mounts[config_path].read_text("utf-8"))
    assert mounts[config_path] == ROOT / "deploy" / "prometheus" / "prometheus.yml"
    for rule_file in config["rule_files"]:
        in_container = str(Path(config_path).parent / rule_file)
        assert mounts[in_container] == ROOT / "deploy" / "prometheus" / "alerts.yaml"


def metrics_port(service: str) -> int:
    """Where a relay process serves /metrics: the API on its HTTP port, others on
    RELAY_METRICS_PORT."""
    command = SERVICES[service]["command"]
    if command[1] == "api":
        return int(command[command.index("--port") + 1])
    return int(SERVICES[service]["environment"]["RELAY_METRICS_PORT"])


def test_prometheus_scrapes_api_worker_and_scheduler_where_they_serve_metrics() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        target: job["job_name"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    expected = {f"{name}:{metrics_port(name)}" for name in ("api", "worker", "scheduler")}
    assert set(scraped) == expected
    for target, job in scraped.items():
        assert job == f"relay-{target.split(':')[0]}"  # the rules select job=~"relay-.*"
    api = next(job for job in config["scrape_configs"] if job["job_name"] == "relay-api")
    assert api["metrics_path"] == "/metrics"


def test_grafana_is_provisioned_with_the_data_source_and_the_dashboard() -> None:
    mounts = bind_mounts("grafana")
    provisioning = mounts["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "deploy" / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "relay.yaml").read_text("utf-8"))
    folder = providers["providers"][0]["options"]["path"]
    assert mounts[f"{folder}/relay.json"] == ROOT / "deploy" / "grafana" / "relay.json"
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{folder}/relay.json"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    assert [source["url"] for source in sources["datasources"]] == ["http://prometheus:9090"]
    assert "127.0.0.1:9090:9090" in SERVICES["prometheus"]["ports"]
