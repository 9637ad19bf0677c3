"""The wheel venv is built once per session and shared by every smoke test."""

from __future__ import annotations

import pytest

from tests.smoke.wheel import Installed, install


@pytest.fixture(scope="session")
def installed(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """(Without PostgreSQL the tests skip, or fail in CI, before a wheel is built for them.)"""
    return install(tmp_path_factory.mktemp("production-install"))
