"""The KS protocol's own examples travel the whole pipeline and arrive with their content
unchanged: what the simulated case system stored is JSON-equal to what the portal sent,
unknown fields and every string (æøå, emoji, right-to-left text) included."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intake.client import IntakeClient
from intake.meldingstyper import MELDINGSTYPER
from intake.protocol import ADRESSE_FILE, EXAMPLE_FILES, SCHEMA_FILES, example
from intake.protocol import HERE as PROTOCOL_PACKAGE
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from tests.support.stack import RecipientSpec, Stack, stack_for

pytestmark = pytest.mark.e2e

CANARY = "Kanarifugl Eksempelsen-Ødegård"
# The protocol as copied into the repository (docs/ks-protocol/PROVENANCE.md).
KS_PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "ks-protocol"
RECIPIENTS = (
    RecipientSpec("oslo", ("0301",)),
    RecipientSpec("bergen", ("4601",)),  # the examples' 1201 is Bergen's number before 2020
)


@pytest.fixture(params=["embedded", "split-postgres-redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with stack_for(request, tmp_path, request.param, recipients=RECIPIENTS) as running:
        yield running


def with_unknown_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The example with fields no schema knows, at the top and deep down, and hard strings."""
    changed = copy.deepcopy(document)
    changed["ukjentFelt"] = {
        "tekst": f'{CANARY} æøå ÆØÅ 👶🏽👨‍👩‍👧 مرحبا بالعالم שלום \u2028 \\ " \t',
        "tall": [0, -1, 1.5, 12345678901234567890, True, None],
        "tom": {},
    }
    barn = changed.get("privatBarn") or changed["offentligBarn"]
    barn[0]["kallenavn"] = CANARY
    barn[0]["adresse"]["land"] = "Norge 🇳🇴"
    return changed


def test_the_protocol_examples_are_the_ones_intake_carries() -> None:
    for meldingstype, name in EXAMPLE_FILES.items():
        copied = KS_PROTOCOL / "examples" / name
        assert copied.read_bytes() == (PROTOCOL_PACKAGE / "examples" / name).read_bytes()
        assert json.loads(copied.read_text("utf-8")) == example(meldingstype)


def test_the_protocol_schemas_are_the_ones_intake_validates_with() -> None:
    for name in [*SCHEMA_FILES.values(), ADRESSE_FILE]:
        copied = KS_PROTOCOL / "domain" / name
        assert copied.read_bytes() == (PROTOCOL_PACKAGE / "schemas" / name).read_bytes(), name


def test_every_example_is_delivered_with_its_content_unchanged(stack: Stack) -> None:
    sent: dict[str, dict[str, Any]] = {}
    with IntakeClient(stack.api_url, stack.token) as client:
        for meldingstype in MELDINGSTYPER:
            for document in (example(meldingstype), with_unknown_fields(example(meldingstype))):
                sent[client.submit(meldingstype, document).id] = document

    stack.wait_for_states(list(sent), {State.DELIVERED, State.VERIFIED}, timeout=120)

    bergen = stack.sandboxes["bergen"]
    assert {entry["id"] for entry in bergen.stored()} == set(sent)
    for report_id, document in sent.items():
        stored = json.loads(bergen.body(report_id))
        assert stored["bekymringsmelding"] == document
        assert list(stored["bekymringsmelding"]) == list(document)  # the order, too
        with UnitOfWork(stack.engine, stack.keys) as uow:
            report = uow.reports.get(report_id)
        assert report is not None
        assert report.recipient == "bergen"
        assert report.sendingstidspunkt == _oslo_instant(document["sendingstidspunkt"])

    logs = stack.logs()
    assert all(report_id in logs for report_id in sent), "the logs name reports by id"
    assert CANARY not in logs, "report content reached a log"


def _oslo_instant(value: str) -> datetime:
    """The examples' times (March 2020, before the 29th) are Norwegian winter time: UTC+1."""
    local = datetime.fromisoformat(value)
    assert (local.year, local.month) == (2020, 3)
    assert local.day < 29
    return local.replace(tzinfo=UTC) - timedelta(hours=1)
