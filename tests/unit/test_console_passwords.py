"""Console password hashes and lockouts (pure), and the console's files shipped as package
data (a wheel without them would serve no page)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from fnmatch import fnmatch
from pathlib import Path

import pytest

from relay.console.accounts import SessionPolicy
from relay.console.passwords import (
    PasswordError,
    check_new_password,
    hash_password,
    verify_password,
)
from tests.support.clock import T0

ROOT = Path(__file__).resolve().parents[2]
SALT = bytes(16)  # a fixed salt keeps these tests to one hash each


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("rett hefte stift", salt=SALT)
    assert stored.startswith("scrypt$n=32768,r=8,p=3$")
    assert "rett hefte stift" not in stored
    assert verify_password("rett hefte stift", stored)
    assert not verify_password("rett hefte stift ", stored)


def test_the_same_password_hashes_differently_with_each_salt() -> None:
    assert hash_password("rett hefte stift") != hash_password("rett hefte stift")


@pytest.mark.parametrize(
    "stored",
    ["", "scrypt", "md5$n=1,r=1,p=1$AAAA$AAAA", "scrypt$n=x$AAAA$AAAA", "scrypt$n=2,r=8$AA$AA"],
)
def test_a_malformed_hash_verifies_nothing(stored: str) -> None:
    assert not verify_password("anything at all", stored)


def test_a_hash_with_parameters_beyond_the_memory_limit_verifies_nothing() -> None:
    stored = hash_password("rett hefte stift", salt=SALT).replace("n=32768", "n=1048576")
    assert not verify_password("rett hefte stift", stored)


@pytest.mark.parametrize("password", ["", "short", "elleve tegn"])
def test_a_short_password_is_refused(password: str) -> None:
    with pytest.raises(PasswordError, match="at least 12 characters"):
        check_new_password(password)


@pytest.mark.parametrize(
    ("failures", "locked_for"),
    [(0, None), (4, None), (5, 60), (6, 120), (8, 480), (9, 900), (40, 900)],
)
def test_logins_are_locked_after_five_failures_for_longer_each_time(
    failures: int, locked_for: float | None
) -> None:
    until = SessionPolicy().locked_until(failures, T0)
    assert until == (None if locked_for is None else T0 + timedelta(seconds=locked_for))


def test_every_template_and_style_sheet_is_package_data() -> None:
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    patterns = setup["package-data"]["relay.console"]
    files = [
        path.relative_to(ROOT / "relay" / "console").as_posix()
        for folder in ("templates", "static")
        for path in (ROOT / "relay" / "console" / folder).iterdir()
    ]
    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []
