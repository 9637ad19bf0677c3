"""The README's "Submitting a report" examples, run as written against a running `relay api`.

The README tells the reader to set RELAY_URL and RELAY_TOKEN; this test sets them to a
real `relay api` process and runs the `curl` block with bash and the Python block with
this interpreter, from the repository's root.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.processes import RelayProcess, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    start = readme.index(f"## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def blocks(language: str) -> list[str]:
    return [
        code for lang, code in BLOCK.findall(section("Submitting a report")) if lang == language
    ]


@pytest.fixture
def relay_api(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running `relay api` on the embedded default, and the variables the README sets."""
    token = secrets.token_urlsafe(32)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    env.update(
        RELAY_DATA_DIR=str(tmp_path / "var"),
        RELAY_INTAKE_TOKENS=f"my-portal:{token}",
        PYTHONUNBUFFERED="1",
    )
    process = RelayProcess("api", ["api", "--port", str(port)], env, tmp_path).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/healthz")
        yield {**env, "RELAY_URL": url, "RELAY_TOKEN": token}
    finally:
        process.stop()


def count_reports(variables: dict[str, str]) -> int:
    engine = create_engine(f"sqlite:///{variables['RELAY_DATA_DIR']}/ledger.sqlite")
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM reports")).scalar_one())
    engine.dispose()
    return count


def run(command: list[str], variables: dict[str, str]) -> str:
    result = subprocess.run(
        command, env=variables, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_readme_has_one_curl_and_one_python_example() -> None:
    assert len([code for code in blocks("sh") if code.startswith("curl")]) == 1
    assert len(blocks("python")) == 1


def test_the_curl_example_works_as_written_and_again_gives_the_same_id(
    relay_api: dict[str, str],
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    [curl] = [code for code in blocks("sh") if code.startswith("curl")]
    first = json.loads(run(["bash", "-euo", "pipefail", "-c", curl], relay_api))
    again = json.loads(run(["bash", "-euo", "pipefail", "-c", curl], relay_api))
    assert first["status"] == "RECEIVED"
    assert again == first
    assert count_reports(relay_api) == 1


def test_the_python_example_works_as_written(relay_api: dict[str, str]) -> None:
    [python] = blocks("python")
    lines = run([sys.executable, "-c", python], relay_api).splitlines()
    assert lines[0].startswith("stored ")
    assert lines[1:] == [
        "status RECEIVED",
        "refused /bekymringsmelding/foresatte must hold at least 1 item",
    ]
    assert count_reports(relay_api) == 1
