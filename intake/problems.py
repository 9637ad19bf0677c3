"""Errors answered as `application/problem+json` (RFC 9457): plain values here, turned into
HTTP answers only by `intake.api`."""

from __future__ import annotations

from dataclasses import dataclass, field

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://bekymring-relay.example/problems/"


@dataclass(frozen=True)
class FieldError:
    pointer: str  # a JSON Pointer into the request body
    detail: str


@dataclass
class Problem(Exception):
    """An answer other than 2xx. `slug` names the kind of problem in its `type` URI."""

    status: int
    slug: str
    title: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}"

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in self.errors]
        return body


def json_pointer(*parts: str | int) -> str:
    """RFC 6901: '~' is written '~0' and '/' is written '~1'."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)
