"""Header checks before a body is read."""

from __future__ import annotations

import pytest

from intake.problems import Problem
from intake.request_checks import authenticate, check_content_type, idempotency_key

TOKENS = {"a" * 32: "portal-a", "b" * 40: "portal-b"}


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("Bearer " + "a" * 32, "portal-a"),
        ("bearer " + "b" * 40, "portal-b"),
        ("Bearer  " + "b" * 40 + " ", "portal-b"),
    ],
)
def test_a_known_token_names_its_client(header: str, client: str) -> None:
    assert authenticate(header, TOKENS) == client


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic " + "a" * 32,
        "Bearer " + "a" * 31,
        "Bearer " + "a" * 33,
        "Bearer " + "ø" * 32,
        "a" * 32,
    ],
)
def test_anything_else_is_401_with_a_challenge(header: str | None) -> None:
    with pytest.raises(Problem) as refused:
        authenticate(header, TOKENS)
    assert refused.value.status == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("content_type", "encoding", "accepted"),
    [
        ("application/json", None, True),
        ("Application/JSON; charset=UTF-8", None, True),
        ('application/json; charset="utf-8"', "identity", True),
        ("application/json;charset=latin-1", None, False),
        ("application/problem+json", None, False),
        ("text/json", None, False),
        (None, None, False),
        ("application/json", "gzip", False),
    ],
)
def test_content_type(content_type: str | None, encoding: str | None, accepted: bool) -> None:
    if accepted:
        check_content_type(content_type, encoding)
        return
    with pytest.raises(Problem) as refused:
        check_content_type(content_type, encoding)
    assert refused.value.status == 415


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("k", True),
        ("~" * 200, True),
        ("a b", True),
        ("", False),
        ("k" * 201, False),
        ("nøkkel", False),
        ("a\tb", False),
    ],
)
def test_idempotency_key(key: str, valid: bool) -> None:
    if valid:
        assert idempotency_key(key) == key
        return
    with pytest.raises(Problem) as refused:
        idempotency_key(key)
    assert refused.value.status == 400


def test_no_idempotency_key_is_fine() -> None:
    assert idempotency_key(None) is None
