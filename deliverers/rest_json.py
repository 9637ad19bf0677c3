"""Vendor "rest-json": push with an HMAC signature, per `docs/case-system-rest-json.md`.

While a recipient's signing secret is rotated, a push carries one signature per secret
(`X-Relay-Signature: v1=<new>,v1=<old>`) and the case system accepts any of them
(`docs/signing-secret-rotation.md`); with one secret the header is as it always was.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from deliverers.base import (
    ContentMismatch,
    Delivery,
    PermanentError,
    Receipt,
    StoredCopy,
    TransientError,
)
from ledger.clock import retry_after_seconds, rfc3339, utc_now

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
REASON_LIMIT = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def signature_header(secrets: Sequence[str], timestamp: str, body: bytes) -> str:
    """`X-Relay-Signature`: one `v1=<hex>` per secret, comma-separated, current one first."""
    return ",".join(signature(secret, timestamp, body) for secret in secrets)


def signature_matches(header: str, secret: str, timestamp: str, body: bytes) -> bool:
    """A receiver's check: any signature in the header made with `secret` (constant time)."""
    expected = signature(secret, timestamp, body)
    found = False
    for given in header.split(","):
        found |= hmac.compare_digest(given.strip(), expected)
    return found


class RestJsonDeliverer:
    def __init__(
        self,
        endpoint: str,
        secret: str,
        *,
        client: httpx.Client,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
        previous_secret: str | None = None,
    ) -> None:
        self._base = endpoint.rstrip("/")
        self._secrets = (secret, previous_secret) if previous_secret else (secret,)
        self._token = token
        self._client = client
        self._clock = clock

    def deliver(self, delivery: Delivery) -> Receipt:
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.report_id,
            "X-Relay-Timestamp": timestamp,
            "X-Relay-Signature": signature_header(self._secrets, timestamp, delivery.body),
            **self._auth(),
        }
        response = self._send(
            "POST", "/bekymringsmeldinger", content=delivery.body, headers=headers
        )
        if response.is_success:  # any 2xx must carry proof; a bare 2xx proves nothing
            receipt = _json_object(response)
            reference = receipt.get("saksreferanse")
            if not isinstance(reference, str) or not reference:
                raise TransientError(
                    f"{response.status_code} without saksreferanse",
                    status_code=response.status_code,
                )
            if receipt.get("sha256") != delivery.sha256:
                raise ContentMismatch(status_code=response.status_code)
            return Receipt(
                saksreferanse=reference,
                sha256=delivery.sha256,
                status_code=response.status_code,
                replay=response.status_code == 200,
            )
        raise _failure(response)

    def read_back(self, report_id: str) -> StoredCopy | None:
        response = self._send("GET", f"/bekymringsmeldinger/{report_id}", headers=self._auth())
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _failure(response)
        stored = _json_object(response)
        reference, digest = stored.get("saksreferanse"), stored.get("sha256")
        if not isinstance(reference, str) or not isinstance(digest, str):
            raise TransientError(
                "read-back answer without saksreferanse or sha256", status_code=200
            )
        return StoredCopy(saksreferanse=reference, sha256=digest)

    def list_since(self, since: datetime) -> set[str]:
        response = self._send(
            "GET",
            "/bekymringsmeldinger",
            params={"mottatt_fra": rfc3339(since)},
            headers=self._auth(),
        )
        if response.status_code != 200:
            raise _failure(response)
        ids = _json_object(response).get("ids")
        if not isinstance(ids, list) or not all(isinstance(item, str) for item in ids):
            raise TransientError("list answer without an ids list", status_code=200)
        return set(ids)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, self._base + path, timeout=TIMEOUT, **kwargs)
        except httpx.TimeoutException as error:
            raise TransientError(f"timeout ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise TransientError(f"connection error ({type(error).__name__})") from None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        raise TransientError(
            f"{response.status_code} with a body that is not JSON", status_code=response.status_code
        ) from None
    if not isinstance(value, dict):
        raise TransientError(
            f"{response.status_code} with a body that is not a JSON object",
            status_code=response.status_code,
        )
    return value


def _failure(response: httpx.Response) -> TransientError | PermanentError:
    status = response.status_code
    if status in (408, 429) or status >= 500:
        return TransientError(
            f"HTTP {status}",
            status_code=status,
            retry_after=retry_after_seconds(response.headers.get("Retry-After"), utc_now()),
        )
    return PermanentError(f"HTTP {status}: {_problem_summary(response)}", status_code=status)


def _problem_summary(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.reason_phrase or "no explanation"
    if not isinstance(problem, dict):
        return response.reason_phrase or "no explanation"
    parts = [str(problem[key]) for key in ("title", "detail") if problem.get(key)]
    return ("; ".join(parts) or response.reason_phrase or "no explanation")[:REASON_LIMIT]
