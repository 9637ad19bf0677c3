"""`relay sandbox`: a simulated case system (rest-json, or a fiks-io mailbox recipient)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click

from deliverers.sandbox.faults import Faults
from deliverers.sandbox.store import SandboxStore
from relay.servers import RestartableServer
from router.routes import ReceiptMode


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8181, show_default=True, type=int)
@click.option(
    "--vendor", type=click.Choice(["rest-json", "fiks-io"]), default="rest-json", show_default=True
)
@click.option("--secret-env", help="rest-json: env var holding the shared signing secret.")
@click.option("--token-env", default=None, help="rest-json: env var holding a bearer token.")
@click.option("--konto", default=None, help="fiks-io: the mailbox konto id to consume.")
@click.option(
    "--receipt",
    type=click.Choice([mode.value for mode in ReceiptMode]),
    default=ReceiptMode.STRICT.value,
    show_default=True,
)
@click.option("--database", type=click.Path(path_type=Path), default=None, help="SQLite file.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Share answered 503.")
@click.option("--latency", type=click.FloatRange(0), default=0.0, help="Seconds before answering.")
@click.option("--store-then-fail-rate", type=click.FloatRange(0, 1), default=0.0)
@click.option(
    "--drop-rate", type=click.FloatRange(0, 1), default=0.0, help="Ack but store nothing."
)
@click.option(
    "--damage-rate", type=click.FloatRange(0, 1), default=0.0, help="Store a damaged copy."
)
@click.option("--reject-kommunenummer", multiple=True, help="Refuse reports for this number.")
@click.option(
    "--silent-attempts",
    type=click.IntRange(0),
    default=0,
    help="fiks-io: no receipt for the first N.",
)
@click.option("--seed", type=int, default=None, help="Seed for the fault dice.")
@click.option(
    "--down-after", type=click.FloatRange(0), default=None, help="Go down after S seconds."
)
@click.option(
    "--down-for",
    type=click.FloatRange(0),
    default=0.0,
    help="…for S seconds (refusing connections).",
)
def sandbox(
    host: str,
    port: int,
    vendor: str,
    secret_env: str | None,
    token_env: str | None,
    konto: str | None,
    receipt: str,
    database: Path | None,
    error_rate: float,
    latency: float,
    store_then_fail_rate: float,
    drop_rate: float,
    damage_rate: float,
    reject_kommunenummer: tuple[str, ...],
    silent_attempts: int,
    seed: int | None,
    down_after: float | None,
    down_for: float,
) -> None:
    """A simulated case system for tests, the demo and compose. Its /_sandbox/ endpoints
    show what it stored and change its faults at run time."""
    from deliverers.sandbox.app import SandboxConfig, create_sandbox_app

    faults = Faults(
        error_rate=error_rate,
        latency_seconds=latency,
        store_then_fail_rate=store_then_fail_rate,
        drop_rate=drop_rate,
        damage_rate=damage_rate,
        reject_kommunenummer=frozenset(reject_kommunenummer),
        silent_attempts=silent_attempts,
        seed=seed,
    )
    secret = os.environ.get(secret_env) if secret_env else None
    if vendor == "rest-json" and not secret:
        raise click.UsageError("rest-json needs --secret-env naming a set environment variable")
    store = SandboxStore(database)
    token = os.environ.get(token_env) if token_env else None
    config = SandboxConfig(secret=secret or "", token=token, database=database, faults=faults)
    if vendor == "fiks-io":
        if not konto:
            raise click.UsageError("fiks-io needs --konto")
        _consume_mailbox(konto, ReceiptMode(receipt), faults, store)
    server = RestartableServer(create_sandbox_app(config, store), host, port)
    server.start()
    if down_after is not None:
        server.outage(down_after, down_for)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _consume_mailbox(konto: str, receipt: ReceiptMode, faults: Faults, store: SandboxStore) -> None:
    from deliverers.sandbox.fiks_io import FiksIoSandbox, FiksIoSandboxConfig
    from relay.bootstrap import load_settings
    from relay.broker import broker_connection

    settings = load_settings()
    connection = broker_connection(settings.broker_url, settings.broker_key_prefix)
    consumer = FiksIoSandbox(connection, FiksIoSandboxConfig(konto, receipt, faults), store)
    threading.Thread(target=consumer.run, daemon=True, name="fiks-io-sandbox").start()
