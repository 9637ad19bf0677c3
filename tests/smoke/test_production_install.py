"""The production path from a wheel installed without the test extras (`make smoke`):
one report of each message type goes from the intake API to VERIFIED, on PostgreSQL with
Redis and with RabbitMQ, and the image's and compose's health probes answer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from intake.meldingstyper import MELDINGSTYPER
from tests.smoke.stack import ProductionStack, production_stack, wait_for_probes
from tests.smoke.wheel import Installed
from tests.support.dockerfile import healthcheck_command
from tests.support.processes import free_port
from tests.support.reports import submission
from tests.support.stack import Broker

pytestmark = pytest.mark.smoke

IMAGE_API_ADDRESS = "127.0.0.1:8000"  # what the Dockerfile's HEALTHCHECK asks


def image_probe(stack: ProductionStack, address: str) -> int:
    """The Dockerfile's HEALTHCHECK, run by the installed Python against `address`."""
    command = healthcheck_command()
    assert command[0] == "python", command
    assert IMAGE_API_ADDRESS in command[2], command
    code = command[2].replace(IMAGE_API_ADDRESS, address)
    python = str(stack.installed.python)
    result = subprocess.run(
        [python, *command[1:2], code], cwd=stack.installed.home, timeout=30, check=False
    )
    return result.returncode


def test_each_message_type_reaches_verified_through_the_installed_processes(
    installed: Installed, content_keys: str, postgres_url: str, broker: Broker, tmp_path: Path
) -> None:
    with production_stack(installed, tmp_path, postgres_url, broker, content_keys) as stack:
        report_ids = [
            stack.submit(submission(meldingstype, kommunenummer="4601"))
            for meldingstype in MELDINGSTYPER
        ]
        stack.wait_until(report_ids, "VERIFIED", timeout=60)

        assert image_probe(stack, stack.api_url.removeprefix("http://")) == 0
        assert image_probe(stack, f"127.0.0.1:{free_port()}") != 0, "a probe that cannot fail"
        wait_for_probes(installed, stack.env, ["worker", "scheduler"])
        stack.check_alive()
