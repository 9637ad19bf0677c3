"""The receiver example for municipalities (docs/examples/receiver.py), started as its
contract document says, answers the relay's own rest-json deliverer as the contract wants:
a correctly signed report is stored, read back and listed; anything else is refused."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from deliverers.base import Delivery, PermanentError, Receipt
from deliverers.body import delivery_body
from deliverers.rest_json import RestJsonDeliverer
from intake.parsing import canonical_bytes
from intake.protocol import example
from tests.support.processes import free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "case-system-rest-json.md"
CANARY = "Kanarifugl Mottakersen"
NEW, OLD, OTHER = "new-" + "n" * 32, "old-" + "o" * 32, "other-" + "x" * 32
TOKEN = "t" * 40
MELDINGSTYPE = "no.ks.fiks.bekymringsmelding.privat.v2"


def documented_command() -> tuple[list[str], str]:
    """The command line the contract document shows, and the env var it names."""
    found = re.search(r"^python (docs/examples/receiver\.py .*)$", CONTRACT.read_text(), re.M)
    assert found, "the contract document no longer shows how to run the receiver"
    args = shlex.split(found.group(1))
    return args, args[args.index("--secret-env") + 1]


class Receiver:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log


@contextmanager
def receiver(
    tmp_path: Path, secrets: Sequence[str], token: str | None = None
) -> Iterator[Receiver]:
    """The example as documented, holding `secrets` (the first in the documented env var)."""
    args, secret_env = documented_command()
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    env = {**os.environ, secret_env: secrets[0]}
    for index, secret in enumerate(secrets[1:]):
        env[f"RECEIVER_SECRET_{index}"] = secret
        args += ["--secret-env", f"RECEIVER_SECRET_{index}"]
    if token is not None:
        env["RECEIVER_TOKEN"] = token
        args += ["--token-env", "RECEIVER_TOKEN"]
    log = tmp_path / f"receiver-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _listens(port), timeout=15, message="the receiver example to listen")
        yield Receiver(url, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, log.read_text()
    assert CANARY not in log.read_text(), "the receiver logged report content"


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def report(report_id: str) -> Delivery:
    """A real body, as the relay builds it, around the KS protocol's own example."""
    document = {**example(MELDINGSTYPE), "melding": CANARY}
    body = delivery_body(
        report_id=report_id,
        meldingstype=MELDINGSTYPE,
        recipient="bergen",
        kommunenummer="4601",
        bydelsnummer="02",
        mottatt=datetime.now(UTC),
        document=canonical_bytes(document),
    )
    return Delivery(report_id, body, hashlib.sha256(body).hexdigest(), MELDINGSTYPE)


def deliverer(
    url: str,
    client: httpx.Client,
    secret: str,
    *,
    previous: str | None = None,
    token: str | None = None,
    clock: Callable[[], float] = time.time,
) -> RestJsonDeliverer:
    return RestJsonDeliverer(
        url, secret, client=client, previous_secret=previous, token=token, clock=clock
    )


def test_a_signed_report_is_stored_read_back_and_listed(tmp_path: Path) -> None:
    sent = report("8d0c2f1e-0000-4000-8000-000000000001")
    before = datetime.now(UTC) - timedelta(seconds=5)
    with receiver(tmp_path, [NEW]) as running, httpx.Client() as client:
        relay = deliverer(running.url, client, NEW)
        first = relay.deliver(sent)
        again = relay.deliver(sent)
        copy = relay.read_back(sent.report_id)
        listed = relay.list_since(before)
        later = relay.list_since(datetime.now(UTC) + timedelta(minutes=1))
        unknown = relay.read_back("8d0c2f1e-0000-4000-8000-00000000ffff")

    assert isinstance(first, Receipt)
    assert (first.status_code, first.replay, first.sha256) == (201, False, sent.sha256)
    assert isinstance(again, Receipt)
    assert (again.status_code, again.replay) == (200, True)
    assert again.saksreferanse == first.saksreferanse
    assert copy is not None
    assert (copy.saksreferanse, copy.sha256) == (first.saksreferanse, sent.sha256)
    assert sent.report_id in listed
    assert sent.report_id not in later
    assert unknown is None


@pytest.mark.parametrize(
    ("signed_with", "why"),
    [
        ({"secret": OTHER}, "another secret"),
        ({"secret": OTHER, "previous": NEW + "x"}, "two signatures, neither ours"),
        ({"secret": NEW, "clock": lambda: time.time() - 600}, "a timestamp 10 minutes old"),
    ],
    ids=["other-secret", "two-wrong-signatures", "stale-timestamp"],
)
def test_a_push_not_signed_by_us_now_is_refused_and_not_stored(
    tmp_path: Path, signed_with: dict[str, object], why: str
) -> None:
    sent = report("8d0c2f1e-0000-4000-8000-000000000002")
    with receiver(tmp_path, [NEW]) as running, httpx.Client() as client:
        relay = deliverer(running.url, client, **signed_with)  # type: ignore[arg-type]
        with pytest.raises(PermanentError) as refused:
            relay.deliver(sent)
        stored = deliverer(running.url, client, NEW).read_back(sent.report_id)
    assert refused.value.status_code == 401, why
    assert "X-Relay" in str(refused.value), "the reason names what to fix"
    assert stored is None


@pytest.mark.parametrize(
    "held",
    [[OLD], [NEW], [NEW, OLD]],
    ids=["receiver-holds-old", "receiver-holds-new", "receiver-holds-both"],
)
def test_during_a_rotation_a_receiver_holding_either_secret_accepts(
    tmp_path: Path, held: list[str]
) -> None:
    sent = report("8d0c2f1e-0000-4000-8000-000000000003")
    with receiver(tmp_path, held) as running, httpx.Client() as client:
        receipt = deliverer(running.url, client, NEW, previous=OLD).deliver(sent)
    assert isinstance(receipt, Receipt)
    assert receipt.sha256 == sent.sha256


def test_a_receiver_switching_secrets_accepts_the_old_and_the_new_alone(tmp_path: Path) -> None:
    with receiver(tmp_path, [NEW, OLD]) as running, httpx.Client() as client:
        for index, secret in enumerate([OLD, NEW]):
            sent = report(f"8d0c2f1e-0000-4000-8000-00000000001{index}")
            assert isinstance(deliverer(running.url, client, secret).deliver(sent), Receipt)


def test_with_a_token_every_endpoint_wants_it(tmp_path: Path) -> None:
    sent = report("8d0c2f1e-0000-4000-8000-000000000004")
    with receiver(tmp_path, [NEW], token=TOKEN) as running, httpx.Client() as client:
        without = deliverer(running.url, client, NEW)
        with pytest.raises(PermanentError) as refused:
            without.deliver(sent)
        with pytest.raises(PermanentError):
            without.read_back(sent.report_id)
        relay = deliverer(running.url, client, NEW, token=TOKEN)
        assert isinstance(relay.deliver(sent), Receipt)
        assert relay.read_back(sent.report_id) is not None
    assert refused.value.status_code == 401


def test_a_missing_secret_stops_it_with_one_line(tmp_path: Path) -> None:
    args, secret_env = documented_command()
    env = {key: value for key, value in os.environ.items() if key != secret_env}
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert f"environment variable {secret_env} is not set" in done.stderr
    assert "Traceback" not in done.stderr
