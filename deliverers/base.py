"""The one interface every vendor adapter implements, and the errors it may raise.

Errors are drawn here first: whether an attempt may be retried is a type, not a string.
No error carries report content; messages name status codes, error classes and ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ledger.records import DeadLetterKind


class DeliveryError(Exception):
    """An attempt that did not end in proven storage."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TransientError(DeliveryError):
    """Try again later; `retry_after` is the delay the case system asked for, if any."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """The case system refused the report; retrying the same bytes cannot help."""

    kind = DeadLetterKind.REJECTED  # the dead letter's kind, for operators' filters


class ContentMismatch(PermanentError):
    """The case system says it stored bytes whose hash is not ours."""

    kind = DeadLetterKind.CONTENT_MISMATCH

    def __init__(self, *, status_code: int | None = None) -> None:
        super().__init__("content mismatch", status_code=status_code)


class ReceiptFailed(PermanentError):
    """The recipient's mailbox answered that receiving failed (fiks-io `feilet`)."""

    kind = DeadLetterKind.RECEIPT_FAILED


@dataclass(frozen=True)
class Delivery:
    report_id: str
    body: bytes
    sha256: str
    meldingstype: str


@dataclass(frozen=True)
class Receipt:
    """Proof of storage: the case system's own reference and the hash of what it stored.

    `proven` is False only for a legacy fiks-io receipt (an empty `mottatt`): accepted as
    delivered, but nothing in it shows what was stored.
    """

    saksreferanse: str | None
    sha256: str
    status_code: int | None
    replay: bool = False
    proven: bool = True


@dataclass(frozen=True)
class Sent:
    """Handed to an asynchronous mailbox; a receipt will follow (or the deadline will pass)."""

    message_id: str


@dataclass(frozen=True)
class StoredCopy:
    saksreferanse: str
    sha256: str


class Deliverer(Protocol):
    """One recipient's case system, spoken to in its vendor's protocol."""

    def deliver(self, delivery: Delivery) -> Receipt | Sent:
        """Push the report: a receipt that proves storage, `Sent` for a mailbox that answers
        later, or raise DeliveryError."""
        ...

    def read_back(self, report_id: str) -> StoredCopy | None:
        """What the case system holds for this report id, or None when it holds nothing."""
        ...

    def list_since(self, since: datetime) -> set[str]:
        """Every report id the case system stored with `mottatt` at or after `since`."""
        ...
