"""The routes file: which recipient serves which municipality or bydel, and how to reach it.

Contract: `docs/routes-file.md`. YAML or TOML. A file that does not hold is refused with a
message naming the entry and the field; a recipient's secret comes from the environment
variable it names, or from a file (`router.secrets`), and a missing one is an error when
the file is loaded.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from router.secrets import SecretReader

SERVES_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


class ReceiptMode(StrEnum):
    """What a recipient's receipts prove (fiks-io): `strict` ones carry the saksreferanse
    and our sha256; `legacy` ones (an empty `mottatt`, as old case systems send) prove
    nothing, so their reports are delivered but never verified."""

    STRICT = "strict"
    LEGACY = "legacy"


class RoutesFileError(Exception):
    """The routes file cannot be used. The message names the entry and field."""


class RetryOverrides(BaseModel):
    """Per-recipient retry policy; unset fields take the RELAY_RETRY_* settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_seconds: float | None = Field(default=None, gt=0)
    cap_seconds: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)
    max_age_seconds: float | None = Field(default=None, gt=0)


class BreakerOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int | None = Field(default=None, ge=1)
    open_seconds: float | None = Field(default=None, gt=0)


class DeliveryOverrides(BaseModel):
    """How deliveries to this recipient are paced, where it differs from the settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryOverrides = Field(default_factory=RetryOverrides)
    breaker: BreakerOverrides = Field(default_factory=BreakerOverrides)
    max_concurrent: int | None = Field(default=None, ge=1)
    receipt_deadline_seconds: float | None = Field(default=None, gt=0)
    overdue_after_seconds: float | None = Field(default=None, gt=0)


class RecipientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$", max_length=100)
    name: str = Field(min_length=1)
    serves: list[str] = Field(min_length=1)
    vendor: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    # Each secret from an environment variable (`*_env`) or a file (`*_file`, relative to
    # the routes file's directory), read whenever the table is built.
    secret_env: str | None = None
    secret_file: str | None = None
    # While a signing secret is rotated: the one being retired (pushes carry a signature
    # made with each; docs/signing-secret-rotation.md).
    previous_secret_env: str | None = None
    previous_secret_file: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    receipt: ReceiptMode = ReceiptMode.STRICT
    delivery: DeliveryOverrides = Field(default_factory=DeliveryOverrides)

    @field_validator("serves")
    @classmethod
    def _serves_are_numbers(cls, values: list[str]) -> list[str]:
        for value in values:
            if not SERVES_PATTERN.match(value):
                raise ValueError(
                    f"{value!r} is neither a kommunenummer (kkkk) nor a bydel (kkkk-bb)"
                )
        return values

    @model_validator(mode="after")
    def _one_source_per_secret(self) -> RecipientEntry:
        for field in SECRETS:
            if getattr(self, f"{field}_env") and getattr(self, f"{field}_file"):
                raise ValueError(f"give {field}_env or {field}_file, not both")
        return self


SECRETS = ("secret", "previous_secret", "token")


class RoutesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recipients: list[RecipientEntry]


@dataclass(frozen=True)
class Recipient:
    """A recipient with its secrets read from the environment."""

    id: str
    name: str
    serves: tuple[str, ...]
    vendor: str
    endpoint: str
    secret: str | None
    token: str | None
    receipt: ReceiptMode
    delivery: DeliveryOverrides
    previous_secret: str | None = None  # the secret being retired, during a rotation

    @property
    def signing_secrets(self) -> tuple[str, ...]:
        """The secrets a push is signed with: the current one, then the one being retired."""
        return tuple(secret for secret in (self.secret, self.previous_secret) if secret)


@dataclass(frozen=True)
class RouteTable:
    recipients: Mapping[str, Recipient]
    by_served: Mapping[str, str]  # "kkkk" or "kkkk-bb" -> recipient id
    sha256: str = ""  # of the file it was built from, once a process has it in force

    def recipient_for(self, served: str) -> Recipient | None:
        recipient_id = self.by_served.get(served)
        return self.recipients[recipient_id] if recipient_id else None

    def routes_by_bydel(self, kommunenummer: str) -> bool:
        prefix = f"{kommunenummer}-"
        return any(key.startswith(prefix) for key in self.by_served)


def load_routes(path: Path, environ: Mapping[str, str] | None = None) -> RouteTable:
    """Read, check and resolve a routes file. Raises `RoutesFileError`."""
    return routes_from_bytes(path, read_routes_file(path), environ)


def read_routes_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise RoutesFileError(f"{path}: cannot read the routes file ({error.strerror})") from None


def routes_from_bytes(
    path: Path,
    content: bytes,
    environ: Mapping[str, str] | None = None,
    *,
    read_secrets: bool = True,
) -> RouteTable:
    """Check and resolve a routes file's content (`path` gives its name and format).

    `read_secrets=False` checks that each secret a vendor needs is named, not that it is
    present (its value is then `router.secrets.NOT_READ`)."""
    secrets = SecretReader(
        os.environ if environ is None else environ, path.parent, read=read_secrets
    )
    return build_table(parse_routes(path, content).recipients, secrets, source=str(path))


def parse_routes(path: Path, content: bytes) -> RoutesDocument:
    """The document's shape, without the environment. Raises `RoutesFileError`."""
    raw = _parse(path, content)
    try:
        return RoutesDocument.model_validate(raw)
    except ValidationError as error:
        raise RoutesFileError(_explain(path, raw, error)) from None


def structure_problems(entries: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Every id used twice and every number served twice, given (id, serves) per entry."""
    problems: list[str] = []
    ids: set[str] = set()
    server: dict[str, str] = {}
    for index, (entry_id, serves) in enumerate(entries):
        where = entry_name(index, entry_id)
        if entry_id in ids:
            problems.append(f"{where}.id: the id is used by an earlier entry too")
        ids.add(entry_id)
        for served in serves:
            if served in server:
                problems.append(f"{where}.serves: {served} is already served by {server[served]}")
            else:
                server[served] = entry_id
    return problems


def entry_name(index: int, entry_id: str | None) -> str:
    return f"recipients[{index}]" + (f" (id={entry_id})" if entry_id else "")


def build_table(
    entries: Sequence[RecipientEntry],
    secrets: Mapping[str, str] | SecretReader,
    *,
    source: str = "routes",
) -> RouteTable:
    """The table, or `RoutesFileError` listing every problem (duplicates, missing secrets).

    `secrets` is a `SecretReader`, or an environment (secret files relative to the
    working directory)."""
    if not isinstance(secrets, SecretReader):
        secrets = SecretReader(secrets, Path.cwd())
    problems = structure_problems([(entry.id, entry.serves) for entry in entries])
    recipients: dict[str, Recipient] = {}
    by_served: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = entry_name(index, entry.id)
        for served in entry.serves:
            by_served.setdefault(served, entry.id)
        secret, previous, token = (
            secrets.get(
                getattr(entry, f"{field}_env"),
                getattr(entry, f"{field}_file"),
                where,
                field,
                problems,
            )
            for field in SECRETS
        )
        recipients.setdefault(
            entry.id,
            Recipient(
                id=entry.id,
                name=entry.name,
                serves=tuple(entry.serves),
                vendor=entry.vendor,
                endpoint=entry.endpoint,
                secret=secret,
                token=token,
                receipt=entry.receipt,
                delivery=entry.delivery,
                previous_secret=previous,
            ),
        )
    if problems:
        raise RoutesFileError("\n  ".join([f"{source}: the routes file cannot be used", *problems]))
    return RouteTable(recipients=recipients, by_served=by_served)


def _parse(path: Path, content: bytes) -> Any:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise RoutesFileError(f"{path}: the routes file is not UTF-8") from None
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise RoutesFileError(f"{path}: not valid {path.suffix.lstrip('.')}: {error}") from None


def _explain(path: Path, raw: Any, error: ValidationError) -> str:
    lines = [f"{path}: the routes file is invalid"]
    for problem in error.errors():
        location = list(problem["loc"])
        where = ""
        if len(location) >= 2 and location[0] == "recipients" and isinstance(location[1], int):
            where = entry_name(location[1], _entry_id(raw, location[1]))
            location = location[2:]
        field = ".".join(str(part) for part in location)
        lines.append(f"  {where}{'.' if where and field else ''}{field}: {problem['msg']}")
    return "\n".join(lines)


def _entry_id(raw: Any, index: int) -> str | None:
    try:
        value = raw["recipients"][index]["id"]
    except (KeyError, IndexError, TypeError):
        return None
    return value if isinstance(value, str) else None
