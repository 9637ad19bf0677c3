"""The ledger's own errors, so that callers need not know the database library."""

from __future__ import annotations


class ConcurrentChange(Exception):
    """Another transaction moved this report after it was read. Nothing was written."""

    def __init__(self, report_id: str) -> None:
        self.report_id = report_id
        super().__init__(f"report {report_id} was changed by another transaction")


class DuplicateKey(Exception):
    """A row with this key was committed by another transaction first. Nothing was written."""


class NoContentKeys(RuntimeError):
    """Content was written or read through a unit of work opened without the key ring."""

    def __init__(self) -> None:
        super().__init__("this unit of work has no content keys (bootstrap builds the key ring)")
