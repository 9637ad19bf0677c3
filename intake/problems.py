"""Errors answered as `application/problem+json` (RFC 9457)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.responses import JSONResponse

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

    def response(self) -> JSONResponse:
        body: dict[str, object] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in self.errors]
        return JSONResponse(
            body, status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers
        )


def json_pointer(*parts: str | int) -> str:
    """RFC 6901: '~' is written '~0' and '/' is written '~1'."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)
