"""What a request must get right before its body is looked at: headers, token, size.

Each check raises a `Problem` with the status the contract names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from starlette.requests import Request

from intake.problems import Problem

IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,200}")
SINGLE_HEADERS = ("authorization", "content-type", "content-encoding", "idempotency-key")


def _unauthorised(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorised",
        "Missing or unknown bearer token",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="bekymring-relay"'},
    )


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


def authenticate(authorization: str | None, tokens: Mapping[str, str]) -> str:
    """The client id for a bearer token.

    Every known token is compared, in constant time, with digests of equal length, so
    neither which token matched nor how long the tokens are shows in the answer's timing.
    """
    if not authorization:
        raise _unauthorised("send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("the Authorization header must use the Bearer scheme")
    given = _digest(token.strip().encode("utf-8", "surrogateescape"))
    client: str | None = None
    for known, known_client in tokens.items():
        if hmac.compare_digest(_digest(known.encode("utf-8")), given):
            client = known_client
    if client is None:
        raise _unauthorised("the token is not known")
    return client


def single_headers(request: Request) -> None:
    """Headers that decide how a request is read must not come twice."""
    for name in SINGLE_HEADERS:
        if len(request.headers.getlist(name)) > 1:
            raise Problem(400, "repeated-header", "A header is repeated", f"send {name} only once")


def check_content_type(content_type: str | None, content_encoding: str | None) -> None:
    media_type, *parameters = (content_type or "").split(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json":
        raise _unsupported(
            "Content-Type must be application/json", f"got {media_type or 'no Content-Type'}"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise _unsupported("The body must be UTF-8", "the only charset accepted is utf-8")
    if (content_encoding or "identity").strip().lower() != "identity":
        raise _unsupported(
            "Content-Encoding is not supported", "send the body without a content coding"
        )


def _unsupported(title: str, detail: str) -> Problem:
    return Problem(415, "unsupported-media-type", title, detail)


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "an Idempotency-Key is 1 to 200 printable ASCII characters",
        )
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes `limit` bytes.

    A declared Content-Length over the limit is refused before any of the body is read; a
    body without one (chunked) is counted as it streams in and refused at the first chunk
    that passes the limit, so at most `limit` bytes plus one chunk are ever held.
    """
    too_large = Problem(
        413, "body-too-large", "The body is too large", f"the limit is {limit} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
