"""`once_more_if_lost`: a transaction tried once more only when its connection was found dead."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ledger.database import once_more_if_lost


def lost() -> DBAPIError:
    return OperationalError("SELECT 1", {}, Exception("server closed"), connection_invalidated=True)


def busy() -> DBAPIError:
    return OperationalError("SELECT 1", {}, Exception("timeout"))


def duplicate() -> DBAPIError:
    return IntegrityError("INSERT", {}, Exception("duplicate key"))


def failing(errors: list[DBAPIError], calls: list[int]) -> Callable[[], str]:
    def work() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    return work


@pytest.mark.parametrize(
    ("errors", "outcome", "tries"),
    [
        pytest.param([], "done", 1, id="no error: once"),
        pytest.param([lost()], "done", 2, id="lost connection: once more"),
        pytest.param([lost(), lost()], OperationalError, 2, id="lost twice: no third try"),
        pytest.param([busy()], OperationalError, 1, id="another operational error: raised"),
        pytest.param([duplicate()], IntegrityError, 1, id="not a connection error: raised"),
    ],
)
def test_once_more_only_on_a_lost_connection(
    errors: list[DBAPIError], outcome: object, tries: int
) -> None:
    calls: list[int] = []
    work = failing(list(errors), calls)
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            once_more_if_lost(work)
    else:
        assert once_more_if_lost(work) == outcome
    assert len(calls) == tries
