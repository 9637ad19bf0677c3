"""The edge where signed checkpoints leave the ledger: appended to a file (JSON lines) and,
where an alert webhook is set, POSTed to it, so that a copy lives outside the database."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx

from ledger.checkpoint import Checkpoint
from relay.alertmanager import checkpoint_body

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class CheckpointLog:
    def __init__(
        self,
        path: Path,
        http: httpx.Client,
        webhook_url: str | None,
        *,
        webhook_format: str = "relay",
    ) -> None:
        self._path = path
        self._http = http
        self._webhook_url = webhook_url
        self._webhook_format = webhook_format

    def __call__(self, checkpoint: Checkpoint) -> None:
        line = json.dumps(checkpoint.as_json(), sort_keys=True) + "\n"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="ascii") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
        if not self._webhook_url:
            return
        payload = {"kind": "checkpoint", **checkpoint.as_json()}
        if self._webhook_format == "alertmanager":
            payload = checkpoint_body(checkpoint.as_json(), checkpoint.cutoff)
        try:
            answered = self._http.post(self._webhook_url, json=payload, timeout=TIMEOUT)
            if not answered.is_success:
                log.warning(
                    "alert webhook answered %d to checkpoint %s",
                    answered.status_code,
                    checkpoint.number,
                )
        except httpx.HTTPError as error:
            log.warning(
                "checkpoint %s not sent to the alert webhook (%s); it is in %s",
                checkpoint.number,
                type(error).__name__,
                self._path,
            )


def read_checkpoints(path: Path) -> list[dict[str, object]]:
    """Every checkpoint in a file as written by `CheckpointLog` (or one JSON object)."""
    text = path.read_text("utf-8").strip()
    if text.startswith("{") and "\n" not in text:
        return [json.loads(text)]
    if text.startswith("["):
        loaded = json.loads(text)
        return list(loaded)
    return [json.loads(line) for line in text.splitlines() if line.strip()]
