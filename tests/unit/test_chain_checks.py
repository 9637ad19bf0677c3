"""Where a report's chain breaks, and why; the Merkle root and signature of a checkpoint."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.chain import chain_break, transition_hash
from ledger.checkpoint import (
    ChainHead,
    checkpoint_from_json,
    make_checkpoint,
    merkle_root,
    signature_holds,
)
from ledger.lifecycle import State
from ledger.records import Transition
from tests.unit.test_chain import chain

STEPS: list[tuple[State | None, State]] = [
    (None, State.RECEIVED),
    (State.RECEIVED, State.ROUTED),
    (State.ROUTED, State.DELIVERING),
    (State.DELIVERING, State.DELIVERED),
]


def rehashed(links: list[Transition], start: int) -> list[Transition]:
    """The chain rewritten consistently from link `start` (0-based) on, as a forger would."""
    out = list(links[:start])
    for link in links[start:]:
        previous = out[-1].hash if out else link.previous_hash
        unhashed = replace(link, previous_hash=previous, hash="")
        out.append(replace(unhashed, hash=transition_hash(unhashed)))
    return out


def edited(links: list[Transition]) -> list[Transition]:
    return [links[0], replace(links[1], reason="edited"), *links[2:]]


LINKS = chain(STEPS)
HEAD = (LINKS[-1].sequence, LINKS[-1].hash)
REWRITTEN = rehashed(edited(LINKS), 1)


@pytest.mark.parametrize(
    ("links", "head", "sequence", "reason"),
    [
        (edited(LINKS), HEAD, 2, "edited"),
        ([LINKS[0], *LINKS[2:]], HEAD, 2, "transition 2 is missing"),
        (LINKS[:-1], HEAD, 4, "transition 4 is missing (the last)"),
        (rehashed(edited(LINKS), 1)[:2] + LINKS[2:], HEAD, 3, "does not link"),
        (REWRITTEN, HEAD, 4, "recorded head is not its last transition"),
        ([], (0, "0" * 64), 1, "no transitions"),
    ],
    ids=[
        "edited reason",
        "deleted transition",
        "deleted last transition",
        "rewritten link",
        "rewritten chain, head kept",
        "no transitions",
    ],
)
def test_a_broken_chain_is_named_by_report_and_sequence(
    links: list[Transition], head: tuple[int, str], sequence: int, reason: str
) -> None:
    found = chain_break("r1", links, *head)
    assert found is not None
    assert (found.report_id, found.sequence) == ("r1", sequence)
    assert reason in found.reason


def test_an_intact_chain_and_a_consistently_rewritten_one_both_pass_on_their_own() -> None:
    assert chain_break("r1", LINKS, *HEAD) is None
    assert chain_break("r1", REWRITTEN, REWRITTEN[-1].sequence, REWRITTEN[-1].hash) is None


def heads(*entries: tuple[str, int, str]) -> list[ChainHead]:
    return [ChainHead(*entry) for entry in entries]


A, B, C = ("a", 3, "aa" * 32), ("b", 5, "bb" * 32), ("c", 1, "cc" * 32)


def test_the_root_depends_on_every_head_but_not_on_their_order() -> None:
    root = merkle_root(heads(A, B, C))
    assert merkle_root(heads(C, A, B)) == root
    for changed in (heads(A, B), heads(A, B, ("c", 2, C[2])), heads(A, B, ("c", 1, "dd" * 32))):
        assert merkle_root(changed) != root
    assert len({merkle_root(heads(*h)) for h in ([], [A], [A, B], [A, B, C])}) == 4


def test_the_root_of_one_to_five_leaves_is_rfc_6962s() -> None:
    import hashlib

    def leaf(head: ChainHead) -> bytes:
        return hashlib.sha256(b"\x00" + head.leaf()).digest()

    def node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    five = heads(*[(f"r{n}", n, f"{n:02}" * 32) for n in range(5)])
    a, b, c, d, e = (leaf(head) for head in five)
    assert merkle_root(five[:1]) == a.hex()
    assert merkle_root(five[:3]) == node(node(a, b), c).hex()
    assert merkle_root(five) == node(node(node(a, b), node(c, d)), e).hex()


CUTOFF = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def test_a_checkpoint_is_signed_and_survives_its_file_form() -> None:
    made = make_checkpoint(heads(A, B), CUTOFF, Ed25519PrivateKey.generate())
    assert signature_holds(made)
    read = checkpoint_from_json(made.as_json())
    assert read == made
    assert signature_holds(read)


@pytest.mark.parametrize("field", ["root", "reports", "cutoff"])
def test_an_altered_checkpoint_fails_its_signature(field: str) -> None:
    made = make_checkpoint(heads(A, B), CUTOFF, Ed25519PrivateKey.generate()).as_json()
    made[field] = {"root": "00" * 32, "reports": 3, "cutoff": "2026-11-27T00:00:00Z"}[field]
    assert not signature_holds(checkpoint_from_json(made))


def test_a_checkpoint_signed_by_another_key_does_not_hold() -> None:
    made = make_checkpoint(heads(A), CUTOFF, Ed25519PrivateKey.generate())
    other = make_checkpoint(heads(A), CUTOFF, Ed25519PrivateKey.generate())
    assert not signature_holds(replace(made, public_key=other.public_key))
