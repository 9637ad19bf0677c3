"""The rows that record a new report, written the cheapest way each database allows.

A new report is five rows (the report with its chain head, its sealed content, its first
transition, its first outbox row and, when the client sent one, its Idempotency-Key) and
nothing in them needs to be read back: the first transition's hash follows from its own
fields, so the report is inserted with its chain head already set. On PostgreSQL the five
go in one statement (data-modifying CTEs; the foreign keys are checked at its end), one
round trip instead of five; on SQLite, whose statements cost no round trip, one each, the
report first. Each is turned into its SQL text and parameter conversions once per dialect
(`_driver_statements`), so a report pays for neither SQLAlchemy's compiled-cache lookup nor
its per-call parameter processing, only for the values' own conversions (on SQLite those
were a quarter of the intake API's busy time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Insert, bindparam
from sqlalchemy.exc import IntegrityError

from ledger import schema
from ledger.errors import DuplicateKey

_REPORT = schema.reports.insert().values(
    {
        name: bindparam(f"new_{name}", type_=schema.reports.c[name].type)
        for name in (
            "id",
            "client_id",
            "meldingstype",
            "state",
            "submitted_kommunenummer",
            "submitted_bydelsnummer",
            "received_at",
            "sendingstidspunkt",
            "updated_at",
            "attempts",
            "missing_count",
            "last_sequence",
            "last_hash",
        )
    }
)
_CONTENT = schema.report_contents.insert().values(
    report_id=bindparam("new_id"),
    document=bindparam("new_document", type_=schema.report_contents.c.document.type),
    key_id=bindparam("new_key_id"),
    wrapped_key=bindparam("new_wrapped_key", type_=schema.report_contents.c.wrapped_key.type),
)
_TRANSITION = schema.transitions.insert().values(
    report_id=bindparam("new_id"),
    sequence=bindparam("new_last_sequence"),
    from_state=None,
    to_state=bindparam("new_state"),
    at=bindparam("new_received_at", type_=schema.transitions.c.at.type),
    actor=bindparam("new_actor"),
    reason=None,
    detail=None,
    previous_hash=bindparam("new_previous_hash"),
    hash=bindparam("new_last_hash"),
)
_OUTBOX = schema.outbox.insert().values(
    report_id=bindparam("new_id"),
    task=bindparam("new_task"),
    queue=bindparam("new_queue"),
    created_at=bindparam("new_received_at", type_=schema.outbox.c.created_at.type),
    publish_attempts=0,
)
_KEY = schema.idempotency_keys.insert().values(
    client_id=bindparam("new_client_id"),
    key=bindparam("new_idempotency_key"),
    request_sha256=bindparam("new_request_sha256"),
    report_id=bindparam("new_id"),
    created_at=bindparam("new_received_at", type_=schema.idempotency_keys.c.created_at.type),
)

_ROWS = (_REPORT, _CONTENT, _TRANSITION, _OUTBOX)


def _one_statement(rows: tuple[Insert, ...]) -> Insert:
    *first, last = rows
    return last.add_cte(*(row.cte(f"row_{n}") for n, row in enumerate(first)))


_ONE_STATEMENT = {False: _one_statement(_ROWS), True: _one_statement((*_ROWS, _KEY))}
_PREFIX = "new_"


@dataclass(frozen=True)
class _DriverStatement:
    """A statement as its dialect's driver takes it: SQL text, the statement's own
    parameters already converted, and how to convert each of the caller's values."""

    sql: str
    fixed: dict[str, Any]
    given: tuple[tuple[str, str, Callable[[Any], Any] | None], ...]  # value, parameter, convert

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        parameters = dict(self.fixed)
        for name, parameter, convert in self.given:
            value = values[name]
            parameters[parameter] = value if convert is None else convert(value)
        return parameters


@lru_cache(maxsize=16)
def _driver_statements(dialect: Dialect, keyed: bool) -> tuple[_DriverStatement, ...]:
    """The statements that write a new report, as `dialect`'s driver takes them: on
    PostgreSQL `_ONE_STATEMENT[keyed]`; on SQLite each row's insert, with named parameters
    (sqlite3 takes a dict for them as psycopg does for its own)."""
    if dialect.name == "postgresql":
        assert dialect.paramstyle == "pyformat", dialect.paramstyle  # named, a dict
        return (_driver_statement(_ONE_STATEMENT[keyed], dialect, dialect),)
    named = cast("Callable[..., Dialect]", type(dialect))(paramstyle="named")
    rows = (*_ROWS, _KEY) if keyed else _ROWS
    return tuple(_driver_statement(row, named, dialect) for row in rows)


def _driver_statement(statement: Insert, compiler: Dialect, dialect: Dialect) -> _DriverStatement:
    """`statement` compiled once (by `compiler`, a dialect like `dialect` with named
    parameters), with the conversions SQLAlchemy would apply at each execution on
    `dialect` (its types' bind processors)."""
    compiled = statement.compile(dialect=compiler)
    defaults = compiled.params
    fixed: dict[str, Any] = {}
    given: list[tuple[str, str, Callable[[Any], Any] | None]] = []
    for bind, parameter in compiled.bind_names.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if parameter.startswith(_PREFIX):
            given.append((parameter.removeprefix(_PREFIX), parameter, convert))
        else:
            value = defaults[parameter]
            fixed[parameter] = value if convert is None else convert(value)
    unique = {parameter: (name, parameter, convert) for name, parameter, convert in given}
    return _DriverStatement(compiled.string, fixed, tuple(unique.values()))


def write_new_report(connection: Connection, values: Mapping[str, Any], *, keyed: bool) -> None:
    """Insert the rows of a new report from `values` (the parameters named above); with
    `keyed`, its Idempotency-Key too. Raises `DuplicateKey`, having written nothing that
    can commit, when another request committed that key first."""
    try:
        for statement in _driver_statements(connection.dialect, keyed):
            connection.exec_driver_sql(statement.sql, statement.parameters(values))
    except IntegrityError as error:
        if keyed and "idempotency_keys" in str(error.orig):
            raise DuplicateKey("an idempotency key of this client") from None
        raise
