"""Report ids as operators give them: whole, or a unique prefix of at least 8 characters."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import click

from ledger.report_ids import ReportIdError, full_report_id
from ledger.uow import UnitOfWork


def full_ids(uow_factory: Callable[[], UnitOfWork], given: Sequence[str]) -> list[str]:
    """Each given id or prefix as the one report id it names, in order, once each.

    Any that names no report or several, or is too short: one line each on stderr and exit
    status 1, before anything is done."""
    found: list[str] = []
    problems: list[str] = []
    with uow_factory() as uow:

        def starting_with(prefix: str, limit: int) -> list[str]:
            return uow.queries.ids_starting_with(prefix, limit=limit)

        for each in given:
            try:
                found.append(full_report_id(each, starting_with))
            except ReportIdError as error:
                problems.append(str(error))
    if problems:
        for problem in problems:
            click.echo(f"relay: {problem}", err=True)
        sys.exit(1)
    return list(dict.fromkeys(found))


def full_id(uow_factory: Callable[[], UnitOfWork], given: str) -> str:
    return full_ids(uow_factory, [given])[0]
