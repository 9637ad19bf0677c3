from __future__ import annotations

import json

import pytest

from deliverers.base import ContentMismatch, Receipt, ReceiptFailed, TransientError
from deliverers.fiks_io import FEILET, MOTTATT, TIDSAVBRUDD
from deliverers.receipts import IncomingReceipt, interpret
from router.routes import ReceiptMode

OURS = "a" * 64


def receipt(kind: str, body: object = b"") -> IncomingReceipt:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return IncomingReceipt("r1", kind, raw)


def test_mottatt_with_our_hash_is_proof() -> None:
    outcome = interpret(
        receipt(MOTTATT, {"saksreferanse": "S-1", "sha256": OURS}), OURS, ReceiptMode.STRICT
    )
    assert outcome == Receipt("S-1", OURS, None)


def test_mottatt_with_another_hash_is_a_content_mismatch() -> None:
    outcome = interpret(
        receipt(MOTTATT, {"saksreferanse": "S-1", "sha256": "b" * 64}), OURS, ReceiptMode.STRICT
    )
    assert isinstance(outcome, ContentMismatch)


@pytest.mark.parametrize("body", [b"", b"{}", {"saksreferanse": "S-1"}, b"not json"])
def test_an_empty_mottatt_proves_nothing_from_a_strict_recipient(body: object) -> None:
    assert isinstance(interpret(receipt(MOTTATT, body), OURS, ReceiptMode.STRICT), TransientError)


def test_an_empty_mottatt_is_accepted_unproven_from_a_legacy_recipient() -> None:
    assert interpret(receipt(MOTTATT), OURS, ReceiptMode.LEGACY) == Receipt(
        None, OURS, None, proven=False
    )


def test_feilet_dead_letters_with_the_recipients_words() -> None:
    outcome = interpret(
        receipt(FEILET, {"melding": "Ugyldig kommunenummer"}), OURS, ReceiptMode.STRICT
    )
    assert isinstance(outcome, ReceiptFailed)
    assert str(outcome) == "feilet: Ugyldig kommunenummer"


def test_tidsavbrudd_is_retried() -> None:
    assert isinstance(interpret(receipt(TIDSAVBRUDD), OURS, ReceiptMode.STRICT), TransientError)


def test_an_unknown_receipt_type_means_nothing() -> None:
    assert interpret(receipt("no.ks.fiks.something.else"), OURS, ReceiptMode.STRICT) is None
