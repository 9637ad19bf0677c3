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


def test_the_compose_routes_file_serves_every_municipality() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "relay", "routes", "check", "--file", "deploy/routes.compose.yaml"],
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
