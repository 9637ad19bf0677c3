"""The Dockerfile, and how compose.yaml uses its image, checked by reading them (no Docker
engine here). tests/smoke/ builds the wheel from the same sources and runs the probe."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dockerfile import (
    Instruction,
    copied_sources,
    healthcheck_command,
    stages,
)

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
SERVICES: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))["services"]
BUILD, IMAGE = stages()
OURS = {name: s for name, s in SERVICES.items() if "build" in s}


def runs(stage: list[Instruction]) -> str:
    return " && ".join(i.arguments for i in stage if i.keyword == "RUN")


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in IMAGE:
        if instruction.keyword == "ENV":
            for word in instruction.words():
                name, _, value = word.partition("=")
                env[name] = value
    return env


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_build_stage_copies_every_package_the_wheel_ships() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    wanted = packages | {"pyproject.toml", PYPROJECT["project"]["readme"]}
    assert wanted <= set(copied_sources(BUILD))


def test_the_image_installs_the_wheel_at_the_versions_ci_tested() -> None:
    assert "constraints.txt" in copied_sources(IMAGE)
    install = runs(IMAGE)
    assert "pip install" in install
    assert "--constraint /tmp/constraints.txt" in install
    assert "/tmp/wheels/*.whl" in install
    assert "[test]" not in install


def test_the_data_folder_exists_and_belongs_to_the_relay_user() -> None:
    data_dir = image_env()["RELAY_DATA_DIR"]
    setup = runs(IMAGE)
    assert f"mkdir -p {data_dir}" in setup
    assert f"chown relay:relay {data_dir}" in setup
    users = [i.arguments for i in IMAGE if i.keyword == "USER"]
    assert users[-1] == "relay"


def test_the_image_probes_the_api_healthz_with_python_on_the_port_compose_serves() -> None:
    probe = healthcheck_command()
    assert probe[:2] == ["python", "-c"]  # the slim image has no curl
    compile(probe[2], "HEALTHCHECK", "exec")
    port = option(SERVICES["api"]["command"], "--port")
    assert f"http://127.0.0.1:{port}/healthz" in probe[2]


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_service_of_our_image_is_probed_as_what_it_runs(name: str) -> None:
    service = OURS[name]
    command = service["command"]
    healthcheck = service.get("healthcheck")
    if service.get("restart") == "no":
        assert healthcheck == {"disable": True}, "a one-shot has nothing to probe"
    elif command[:2] == ["relay", "api"]:
        assert healthcheck is None, "the API keeps the image's /healthz probe"
    elif command[:2] == ["relay", "sandbox"]:
        assert f"127.0.0.1:{option(command, '--port')}/" in " ".join(healthcheck["test"])
    else:
        assert healthcheck["test"] == ["CMD", "relay", "health", "--check", command[1]]


@pytest.mark.parametrize("name", sorted(OURS))
def test_what_a_service_writes_lies_in_a_volume_on_the_data_folder(name: str) -> None:
    data_dir = image_env()["RELAY_DATA_DIR"]
    mounts = [v.split(":") for v in OURS[name].get("volumes", [])]
    assert [target for source, target, *_ in mounts if not source.startswith(".")] == [data_dir]
    command = OURS[name]["command"]
    if "--database" in command:
        assert option(command, "--database").startswith(data_dir + "/")
