"""The wheel venv is built once per session and shared by every smoke test."""

from __future__ import annotations

import pytest

from tests.smoke.wheel import Installed, clean_env, install


@pytest.fixture(scope="session")
def installed(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """(Without PostgreSQL the tests skip, or fail in CI, before a wheel is built for them.)"""
    return install(tmp_path_factory.mktemp("production-install"))


@pytest.fixture(scope="session")
def content_keys(installed: Installed) -> str:
    """A content key ring from the installed `relay keys new`, as the README makes one."""
    return installed.check(["keys", "new", "--id", "smoke-1"], clean_env()).strip()
