"""The `relay` command line: run the pipeline's processes, and look after reports."""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

import click

from ledger.clock import rfc3339
from relay.bootstrap import bootstrap
from relay.cli_dlq import dlq
from relay.cli_proof import overdue_command, recipients, reconcile_command
from relay.cli_routes import held, routes
from relay.cli_sandbox import sandbox
from relay.cli_support import configure_logging, settings_and_logging, startup_errors


@click.group()
def main() -> None:
    """bekymring-relay: carries concern reports to case systems and proves they arrived."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@startup_errors
def run(host: str, port: int) -> None:
    """Everything in one process: intake API, worker, outbox relay, periodic jobs."""
    from relay.embedded import run_embedded

    settings = settings_and_logging()
    container = bootstrap(settings)
    container.check_routes()
    run_embedded(container, host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@startup_errors
def api(host: str, port: int) -> None:
    """The intake API alone (production: run several behind a load balancer)."""
    import uvicorn

    from relay.wiring import intake_app

    settings = settings_and_logging()
    container = bootstrap(settings)
    uvicorn.run(intake_app(container), host=host, port=port, log_level=settings.log_level.lower())


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=None,
    help="Default: RELAY_WORKER_CONCURRENCY (always 1 for --pool solo).",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "threads", "solo"]),
    default="prefork",
    show_default=True,
)
@click.option("--queues", default=None, help="Comma-separated; default: route and every vendor.")
@startup_errors
def worker(concurrency: int | None, pool: str, queues: str | None) -> None:
    """A Celery worker for the routing and delivery queues."""
    from relay.celery_app import create_celery
    from relay.embedded import worker_argv

    settings = settings_and_logging()
    check = bootstrap(settings)
    check.check_routes()  # a missing secret stops the start, not the first delivery
    check.close()
    # Celery reserves concurrency x prefetch messages. A solo worker runs one task at a
    # time, so anything more would hold reports behind a slow delivery.
    slots = 1 if pool == "solo" else concurrency or settings.worker_concurrency
    celery = create_celery(settings)
    celery.worker_main(
        worker_argv(
            slots,
            pool=pool,
            queues=queues.split(",") if queues else None,
        )
    )


@main.command()
@startup_errors
def scheduler() -> None:
    """The outbox relay and the periodic jobs (one or more per deployment)."""
    from relay.background import Background
    from relay.celery_app import create_celery

    settings = settings_and_logging()
    container = bootstrap(settings)
    celery = create_celery(settings)
    celery.use_container(container)
    background = Background(container, celery)
    signal.signal(signal.SIGTERM, lambda *_: background.stop_event.set())
    background.start()
    try:
        background.stop_event.wait()
    except KeyboardInterrupt:
        pass
    finally:
        background.stop()
        container.close()


@main.command()
@click.argument("report_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@startup_errors
def status(report_id: str, as_json: bool) -> None:
    """A report's state and its full history (metadata only)."""
    container = bootstrap(settings_and_logging())
    try:
        with container.uow() as uow:
            report = uow.ledger.get(report_id)
            history = uow.ledger.history(report_id) if report else []
    finally:
        container.close()
    if report is None:
        click.echo(f"relay: no report {report_id}", err=True)
        sys.exit(1)
    view: dict[str, Any] = {
        "id": report.id,
        "state": report.state.value,
        "meldingstype": report.meldingstype,
        "client": report.client_id,
        "kommunenummer": report.kommunenummer or report.submitted_kommunenummer,
        "bydelsnummer": report.bydelsnummer,
        "recipient": report.recipient,
        "attempts": report.attempts,
        "saksreferanse": report.saksreferanse,
        "received_at": rfc3339(report.received_at),
        "history": [
            {
                "sequence": t.sequence,
                "from": t.from_state.value if t.from_state else None,
                "to": t.to_state.value,
                "at": rfc3339(t.at),
                "actor": t.actor,
                "reason": t.reason,
                "detail": t.detail,
            }
            for t in history
        ],
    }
    if as_json:
        click.echo(json.dumps(view, indent=2, ensure_ascii=False))
        return
    for key in ("id", "state", "meldingstype", "client", "kommunenummer", "recipient", "attempts"):
        click.echo(f"{key:>14}: {view[key]}")
    click.echo("       history:")
    for entry in view["history"]:
        origin = entry["from"] or "-"
        line = (
            f"  {entry['sequence']:>3} {entry['at']} {origin} -> {entry['to']} by {entry['actor']}"
        )
        if entry["reason"]:
            line += f": {entry['reason']}"
        click.echo(line)


@main.group()
def db() -> None:
    """The ledger's schema."""


@db.command()
@startup_errors
def upgrade() -> None:
    """Bring the ledger's schema up to date (Alembic)."""
    from ledger.migrate import current_revision

    container = bootstrap(settings_and_logging(), migrate=True)
    click.echo(f"ledger schema at revision {current_revision(container.engine)}")
    container.close()


@main.command()
@click.option("--reports", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--timeout", default=90.0, show_default=True, type=float, help="Seconds to wait.")
@click.option("--faults", is_flag=True, help="Case systems that fail, go down and refuse.")
@startup_errors
def demo(reports: int, timeout: float, faults: bool) -> None:
    """The whole pipeline end to end with simulated municipalities, on the embedded default."""
    from relay.demo import run_demo

    configure_logging("WARNING")
    sys.exit(run_demo(reports=reports, timeout=timeout, faults=faults))


@main.command()
@click.option("--reports", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--timeout", default=300.0, show_default=True, type=float)
@click.option("--database-url", default=None, help="Bench this ledger instead of SQLite.")
@click.option("--broker-url", default=None, help="Bench this broker instead of SQLite.")
@click.option("--verify-delay", default=1.0, show_default=True, type=float)
@startup_errors
def bench(
    reports: int,
    concurrency: int,
    timeout: float,
    database_url: str | None,
    broker_url: str | None,
    verify_delay: float,
) -> None:
    """Measure intake, delivery and verification end to end (JSON on stdout)."""
    from relay.bench import run_bench

    configure_logging("WARNING")
    settings = {"RELAY_VERIFY_DELAY_SECONDS": str(verify_delay)}
    if database_url:
        settings["RELAY_DATABASE_URL"] = database_url
    if broker_url:
        settings["RELAY_BROKER_URL"] = broker_url
    result = run_bench(reports=reports, concurrency=concurrency, timeout=timeout, settings=settings)
    click.echo(json.dumps(result, indent=2))
    sys.exit(0 if result["not_verified"] == 0 else 1)


main.add_command(sandbox)
main.add_command(dlq)
main.add_command(reconcile_command)
main.add_command(overdue_command)
main.add_command(recipients)
main.add_command(routes)
main.add_command(held)
