"""The OpenAPI 3.1 document of the intake API: every status and body of the contract.

The four report documents are the KS JSON Schemas themselves, placed under
`components/schemas` with their `$ref`s rewritten to point there (the address schema becomes
`Adresse`, each schema's `definitions` become `<Schema>.<name>`).
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urljoin

from intake.meldingstyper import MELDINGSTYPER, OFFENTLIG_V1, OFFENTLIG_V2, PRIVAT_V1, PRIVAT_V2
from intake.protocol import adresse_schema, schema
from intake.schemas import ADRESSE_URI
from ledger.lifecycle import State

COMPONENT = "#/components/schemas/"
DOCUMENT_NAMES = {
    PRIVAT_V1: "PrivatBekymringsmeldingV1",
    PRIVAT_V2: "PrivatBekymringsmeldingV2",
    OFFENTLIG_V1: "OffentligBekymringsmeldingV1",
    OFFENTLIG_V2: "OffentligBekymringsmeldingV2",
}
# The contract's 1-200 printable ASCII characters, as they arrive: HTTP strips leading and
# trailing spaces from a header value.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$"
PROBLEMS = {
    400: "The body is not JSON, not an object, or a header is malformed",
    401: "Missing or unknown bearer token",
    404: "No such report for this client",
    409: "Idempotency-Key reused with a different body",
    413: "The body is larger than the configured limit",
    415: "Content-Type is not application/json (UTF-8, no content coding)",
    422: "Unknown meldingstype, or the document fails its schema; see errors",
    503: "The ledger cannot commit right now: nothing was stored, retry with the same key",
}
PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    503: {"Retry-After": {"required": True, "schema": {"type": "string"}}},
}


def _ks_components(name: str, document_schema: dict[str, Any]) -> dict[str, Any]:
    """The schema and its definitions as components, with every `$ref` pointing there."""
    base = document_schema.pop("$id")
    document_schema.pop("$schema", None)
    definitions = document_schema.pop("definitions", {})

    def target(reference: str) -> str:
        absolute = urljoin(base, reference)
        if absolute == ADRESSE_URI:
            return COMPONENT + "Adresse"
        prefix = base + "#/definitions/"
        if absolute.startswith(prefix):
            return f"{COMPONENT}{name}.{absolute.removeprefix(prefix)}"
        raise ValueError(f"{name}: cannot place $ref {reference}")

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: target(v) if k == "$ref" else rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    components = {name: rewrite(document_schema)}
    components.update({f"{name}.{key}": rewrite(value) for key, value in definitions.items()})
    return components


def _schemas() -> dict[str, Any]:
    adresse = adresse_schema()
    adresse.pop("$id")
    adresse.pop("$schema", None)
    schemas: dict[str, Any] = {"Adresse": adresse}
    for meldingstype, name in DOCUMENT_NAMES.items():
        schemas.update(_ks_components(name, schema(meldingstype)))
        schemas[f"Submission.{name}"] = {
            "type": "object",
            "required": ["meldingstype", "bekymringsmelding"],
            "additionalProperties": False,
            "properties": {
                "meldingstype": {"type": "string", "enum": [meldingstype]},
                "bekymringsmelding": {"$ref": COMPONENT + name},
            },
        }
    schemas["Submission"] = {
        "description": "A report: its message type and a document valid against that type's "
        "KS JSON Schema. Fields the schema does not know are kept and delivered.",
        "oneOf": [{"$ref": f"{COMPONENT}Submission.{name}"} for name in DOCUMENT_NAMES.values()],
        "discriminator": {
            "propertyName": "meldingstype",
            "mapping": {m: f"{COMPONENT}Submission.{n}" for m, n in DOCUMENT_NAMES.items()},
        },
    }
    schemas.update(_answer_schemas())
    return schemas


def _answer_schemas() -> dict[str, Any]:
    timestamp = {"type": "string", "format": "date-time"}
    status = {"type": "string", "enum": [state.value for state in State]}
    return {
        "Receipt": {
            "type": "object",
            "required": ["id", "status", "received_at"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "status": {"type": "string", "enum": [State.RECEIVED.value]},
                "received_at": timestamp,
            },
        },
        "ReportStatus": {
            "type": "object",
            "description": "Metadata only, never the report's content.",
            "required": [
                "id",
                "meldingstype",
                "status",
                "kommunenummer",
                "recipient",
                "received_at",
                "updated_at",
                "history",
            ],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "meldingstype": {"type": "string", "enum": list(MELDINGSTYPER)},
                "status": status,
                "kommunenummer": {"type": "string"},
                "recipient": {"type": ["string", "null"]},
                "received_at": timestamp,
                "updated_at": timestamp,
                "history": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["status", "at"],
                        "properties": {"status": status, "at": timestamp},
                    },
                },
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["pointer", "detail"],
                        "properties": {
                            "pointer": {"type": "string", "description": "RFC 6901"},
                            "detail": {"type": "string"},
                        },
                    },
                },
            },
        },
    }


def _problems(*statuses: int) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": PROBLEMS[status],
            "content": {"application/problem+json": {"schema": {"$ref": COMPONENT + "Problem"}}},
        }
        if status in PROBLEM_HEADERS:
            response["headers"] = copy.deepcopy(PROBLEM_HEADERS[status])
        responses[str(status)] = response
    return responses


def _json(reference: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": COMPONENT + reference}}}


def openapi_document(title: str, version: str, description: str) -> dict[str, Any]:
    submit = {
        "operationId": "submitReport",
        "summary": "Submit a report",
        "description": "Answered 202 only after the report and its first ledger transition "
        "are committed. The same Idempotency-Key with the same body answers the first "
        "receipt again and stores nothing; with a different body, 409.",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            }
        ],
        "requestBody": {"required": True, "content": _json("Submission")},
        "responses": {
            "202": {
                "description": "Accepted and committed",
                "headers": {
                    "Location": {"required": True, "schema": {"type": "string"}},
                },
                "content": _json("Receipt"),
            },
            **_problems(400, 401, 409, 413, 415, 422, 503),
        },
    }
    status = {
        "operationId": "reportStatus",
        "summary": "Where a report is (metadata only)",
        "parameters": [
            {"name": "report_id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": {
                "description": "The report's state and history",
                "content": _json("ReportStatus"),
            },
            **_problems(401, 404, 503),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "security": [{"bearer": []}],
        "paths": {"/v1/reports": {"post": submit}, "/v1/reports/{report_id}": {"get": status}},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
