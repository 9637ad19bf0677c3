"""What `IntakeClient` raises: one hierarchy, drawn here.

`IntakeRefused` and its subclasses carry the server's problem body (RFC 9457) and mean the
request as sent will never succeed; `IntakeUnavailable` means it may, later, with the same
Idempotency-Key (the client gave up retrying for now).
"""

from __future__ import annotations

from typing import Any


class IntakeError(Exception):
    """Anything that kept a request from being answered as asked."""


class IntakeUnavailable(IntakeError):
    """No answer but 503, 429 or a broken connection, after every attempt.

    Send the same report again later with `idempotency_key`: it is never stored twice.
    """

    def __init__(self, message: str, *, idempotency_key: str | None, attempts: int) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key
        self.attempts = attempts


class IntakeRefused(IntakeError):
    """A 4xx answer: the server's problem body is in `problem`."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")

    @property
    def errors(self) -> list[dict[str, str]]:
        """One `{"pointer", "detail"}` per failing field (422)."""
        errors = self.problem.get("errors", [])
        return errors if isinstance(errors, list) else []


class BadRequest(IntakeRefused):
    """400: the body is not a JSON object, or a header is malformed."""


class Unauthorised(IntakeRefused):
    """401: missing or unknown token."""


class ReportNotFound(IntakeRefused):
    """404: no such report for this client."""


class IdempotencyConflict(IntakeRefused):
    """409: this Idempotency-Key was first used with another body."""


class BodyTooLarge(IntakeRefused):
    """413: the body is larger than the server's limit."""


class UnsupportedMediaType(IntakeRefused):
    """415: the server did not accept the content type."""


class InvalidReport(IntakeRefused):
    """422: unknown meldingstype or the document fails its schema; see `errors`."""


REFUSALS: dict[int, type[IntakeRefused]] = {
    400: BadRequest,
    401: Unauthorised,
    404: ReportNotFound,
    409: IdempotencyConflict,
    413: BodyTooLarge,
    415: UnsupportedMediaType,
    422: InvalidReport,
}


def refusal(status: int, problem: dict[str, Any]) -> IntakeRefused:
    return REFUSALS.get(status, IntakeRefused)(status, problem)
