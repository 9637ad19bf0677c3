"""sendingstidspunkt read as an instant: Europe/Oslo when it has no offset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.tidspunkt import sendingstidspunkt_instant


@pytest.mark.parametrize(
    ("value", "instant"),
    [
        ("2020-03-17T00:31:56", datetime(2020, 3, 16, 23, 31, 56, tzinfo=UTC)),  # winter, +01
        ("2020-07-17T00:31:56", datetime(2020, 7, 16, 22, 31, 56, tzinfo=UTC)),  # summer, +02
        ("2020-07-17 00:31:56.250", datetime(2020, 7, 16, 22, 31, 56, 250000, tzinfo=UTC)),
        ("2020-03-17T00:31:56Z", datetime(2020, 3, 17, 0, 31, 56, tzinfo=UTC)),
        ("2020-03-17t00:31:56z", datetime(2020, 3, 17, 0, 31, 56, tzinfo=UTC)),
        ("2020-03-17T00:31:56-05:00", datetime(2020, 3, 17, 5, 31, 56, tzinfo=UTC)),
        # the hour that does not exist (spring) and the one that comes twice (autumn):
        # the offset in force before the change
        ("2024-03-31T02:30:00", datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),
        ("2024-10-27T02:30:00", datetime(2024, 10, 27, 0, 30, tzinfo=UTC)),
        ("2020-03-17", None),
        ("2020-03-17T00:31", None),
        ("17.03.2020 00:31", None),
        ("2020-02-30T00:00:00", None),
        ("0001-01-01T00:00:00", None),
        ("9999-12-31T23:59:59-01:00", None),
        ("２０２０-03-17T00:31:56", None),
        ("", None),
    ],
)
def test_sendingstidspunkt(value: str, instant: datetime | None) -> None:
    assert sendingstidspunkt_instant(value) == instant


@given(st.text())
def test_any_string_gives_an_instant_in_utc_or_none(value: str) -> None:
    instant = sendingstidspunkt_instant(value)
    assert instant is None or instant.tzinfo is UTC


@given(st.datetimes(timezones=st.just(UTC)))
def test_an_offset_is_respected(moment: datetime) -> None:
    assert sendingstidspunkt_instant(moment.isoformat()) == moment
