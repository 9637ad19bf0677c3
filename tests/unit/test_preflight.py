"""The start-up checks' answers: which revision problem says what, and no password shown."""

from __future__ import annotations

import pytest

from ledger.migrate import head_revision
from relay.preflight import redacted, revision_problem

WHERE = "postgresql+psycopg://relay:***@db:5432/relay"


def test_a_ledger_at_the_head_revision_is_no_problem() -> None:
    assert revision_problem(head_revision(), WHERE) is None


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        (None, f"the ledger at {WHERE} has no schema yet: run `relay db upgrade`"),
        ("0001", "is at revision 0001, not {head}: run `relay db upgrade`"),
        ("9999", "is at revision 9999, newer than this relay knows (its newest is {head})"),
    ],
)
def test_a_ledger_elsewhere_says_what_to_run(revision: str | None, says: str) -> None:
    problem = revision_problem(revision, WHERE)
    assert problem is not None
    assert says.format(head=head_revision()) in problem


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:sesame@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("amqp://guest:sesame@rabbit:5672//", "amqp://guest:***@rabbit:5672//"),
        ("rediss://127.0.0.1:6379/0", "rediss://127.0.0.1:6379/0"),
        ("redis://user@127.0.0.1/0", "redis://user@127.0.0.1/0"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown
