"""What a process makes sure of before it starts, and the error it stops with.

Every command that opens the ledger checks that it answers and that its schema is at this
code's head revision (else: "run `relay db upgrade`"); the worker, the scheduler and
`relay run` also check that the broker answers, within bounded waits. The API's `/readyz`
asks the same two questions on every call. Each answer is one line that names what and
where, never a password.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from ledger.migrate import current_revision, head_revision, known_revision, upgrade
from relay.broker import EMBEDDED_PREFIX, connect_once
from relay.settings import Settings

UPGRADE_HINT = "run `relay db upgrade`"


class StartupError(Exception):
    """The process cannot start with this configuration; the message says what to fix."""


def require_ledger(engine: Engine, *, migrate: bool) -> None:
    """Migrate first if asked; then the ledger must answer and be at the head revision."""
    if migrate:
        try:
            upgrade(engine, quiet=True)
        except (OperationalError, InterfaceError) as error:
            raise StartupError(_unreachable_ledger(engine, error)) from None
        except SQLAlchemyError as error:
            reason = _reason(_cause(error), engine.url.password)
            where = _ledger_where(engine)
            raise StartupError(f"the ledger at {where} could not be migrated: {reason}") from None
        except CommandError:
            pass  # a revision this code does not know: said below
    problem = ledger_problem(engine)
    if problem:
        raise StartupError(problem)


def ledger_problem(engine: Engine) -> str | None:
    """None when the ledger answers at this code's head revision, else what is wrong."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as error:
        return _unreachable_ledger(engine, error)
    return revision_problem(revision, _ledger_where(engine))


def revision_problem(revision: str | None, where: str) -> str | None:
    head = head_revision()
    if revision == head:
        return None
    if revision is None:
        return f"the ledger at {where} has no schema yet: {UPGRADE_HINT}"
    if not known_revision(revision):
        return (
            f"the ledger at {where} is at revision {revision}, newer than this relay "
            f"knows (its newest is {head}): run the relay version that migrated it"
        )
    return f"the ledger at {where} is at revision {revision}, not {head}: {UPGRADE_HINT}"


def require_broker(settings: Settings) -> None:
    problem = broker_problem(settings)
    if problem:
        raise StartupError(problem)


def broker_problem(settings: Settings) -> str | None:
    """None when the broker takes a connection within the connect timeout, else why not.
    The embedded broker is a file beside the ledger: always there."""
    url = settings.broker_url
    if url.startswith(EMBEDDED_PREFIX):
        return None
    try:
        connect_once(url, settings.broker_key_prefix)
    except Exception as error:  # each transport has its own errors; any means "not there"
        hint = " (a rediss:// or amqps:// URL needs a server that speaks TLS)"
        return (
            f"the broker at {redacted(url)} does not answer: "
            f"{_reason(error, urlsplit(url).password)}"
            + (hint if url.startswith(("rediss://", "amqps://")) else "")
        )
    return None


def redacted(url: str) -> str:
    """The URL with its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _ledger_where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _unreachable_ledger(engine: Engine, error: SQLAlchemyError) -> str:
    reason = _reason(_cause(error), engine.url.password)
    return f"the ledger at {_ledger_where(engine)} cannot be reached: {reason}"


def _cause(error: SQLAlchemyError) -> BaseException:
    """The driver's own error, whose message SQLAlchemy's wraps in SQL and links."""
    return error.orig if isinstance(error, DBAPIError) and error.orig else error


def _reason(error: BaseException, password: str | None) -> str:
    """The last clause of the error's first line ("Connection refused"), without secrets."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    reason = text.rsplit(" failed: ", 1)[-1].strip()
    if password:
        reason = reason.replace(password, "***")
    return reason
