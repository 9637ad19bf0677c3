"""The wheel venv is built once per session and shared by every smoke test."""

from __future__ import annotations

import pytest

from tests.smoke.wheel import Installed, install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("production-install"))
