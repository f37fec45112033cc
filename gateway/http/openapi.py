"""The OpenAPI 3.1 document (``GET /openapi.json``): every HTTP route the gateway serves.

Generated, not written by hand where the code already says it: the native operations from
``routes.OPERATIONS`` and the types of their commands and results (``schemas.SchemaSet``);
the file routes and the operations endpoints from the tables here; each vendor dialect from
the ``ApiSection`` its package contributes (``dialects/openapi.py``), under its vendor's tag
with its own credentials and error shape. A request is declared as validation checks it
(types, bounds, patterns, cross-field rules, no U+0000, the ``Idempotency-Key`` format);
each answer lists its status codes with a schema and headers. The socket protocol is the
AsyncAPI document (``asyncapi.py``). ``tests/gateway/test_openapi_fuzz.py`` holds the
server to this document with schemathesis.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec.inspect as mi

from gateway.http.docs import ASSETS
from gateway.http.routes import OPERATIONS, Operation
from gateway.http.schemas import SchemaSet
from protocol import commands as cmd
from protocol.codes import HTTP_STATUS, ErrorCode

__all__ = [
    "MEANINGS",
    "REF",
    "SHA256",
    "ApiSection",
    "answer",
    "error_answers",
    "header_parameter",
    "idempotency_key",
    "json_content",
    "native_meanings",
    "openapi_document",
    "path_parameter",
    "upload_body",
]

REF: Final = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"{(\w+)}")

#: ``Idempotency-Key`` as ``core/idempotency.py`` checks it.
IDEMPOTENCY_KEY: Final = r"^[!-~]{1,255}$"

#: What each error code means, for the descriptions of the answers that carry it.
MEANINGS: Final[Mapping[ErrorCode, str]] = {
    ErrorCode.BAD_REQUEST: "the body is not JSON or nests deeper than 32 levels, or the body "
    "or a parameter holds U+0000",
    ErrorCode.INVALID_STATE: "the conversation's status does not allow this (lifecycle)",
    ErrorCode.UNAUTHORIZED: "no credential, or one that is invalid, expired or revoked",
    ErrorCode.FORBIDDEN: "the credential may not do this",
    ErrorCode.QUOTA_EXCEEDED: "the org's monthly messages are used up",
    ErrorCode.NOT_FOUND: "no such resource in the caller's org",
    ErrorCode.REQUEST_TIMEOUT: "the request's headers or body did not arrive in time",
    ErrorCode.CONTROL_LOST: "a human took over, or the epoch is stale",
    ErrorCode.IDEMPOTENCY_CONFLICT: "this Idempotency-Key was used with another body",
    ErrorCode.PAYLOAD_TOO_LARGE: "the body, a file or metadata is over its limit",
    ErrorCode.VALIDATION_ERROR: "a field is invalid: `details.path` names it",
    ErrorCode.ATTACHMENT_REJECTED: "an attachment cannot be found or fetched, or is no image",
    ErrorCode.PAGE_REJECTED: "a page to import cannot be fetched, is no HTML page, or has no "
    "text: `details.reason` says which",
    ErrorCode.RATE_LIMITED: "over a rate limit: `details.scope` names it; retry after",
    ErrorCode.UNAVAILABLE: "storage is unavailable for now: retry later",
}

REQUEST_ID: Final = {
    "description": "The request's id (sent in X-Request-Id, or generated), also in error bodies",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_SECONDS = {"type": "string", "pattern": r"^[0-9]+$"}
RATE_LIMIT_HEADERS: Final = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": _SECONDS},
    "RateLimit-Limit": {"description": "The size of the spent budget", "schema": _SECONDS},
    "RateLimit-Remaining": {"description": "What is left of it (0)", "schema": _SECONDS},
    "RateLimit-Reset": {"description": "Seconds until it is full again", "schema": _SECONDS},
}

ERROR_SCHEMA: Final[dict[str, Any]] = {
    "description": "The native error envelope.",
    "type": "object",
    "required": ["error", "request_id"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"enum": sorted(c.value for c in HTTP_STATUS)},
                "message": {"type": "string"},
                "details": {},
            },
        },
        "request_id": {"type": "string"},
    },
}


@dataclass(frozen=True, slots=True)
class ApiSection:
    """A part of the document: its tag, its paths, and the credentials they take."""

    tag: str
    description: str
    paths: Mapping[str, Mapping[str, Any]]
    security_schemes: Mapping[str, Any] = field(default_factory=dict)


Sections = Callable[[SchemaSet], Sequence[ApiSection]]


def openapi_document(version: str, sections: Sections | None = None) -> dict[str, Any]:
    """The document: the native API, the files and operations routes, and ``sections``
    (built on the same schemas: the dialects)."""
    schemas = SchemaSet(REF)
    error = schemas.add("Error", ERROR_SCHEMA)
    parts = [
        *_native_sections(schemas, error),
        _files_section(error),
        _operations_section(),
        *(sections(schemas) if sections else ()),
    ]
    paths: dict[str, dict[str, Any]] = {}
    security_schemes: dict[str, Any] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (cgk_...), or a token from POST /v1/tokens or a "
            "widget session",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "chatgate_session",
            "description": "A signed-in agent (POST /v1/auth/sign-in); every change also "
            "sends X-CSRF-Token equal to the chatgate_csrf cookie (docs/dashboard.md)",
        },
    }
    for part in parts:
        for path, methods in part.paths.items():
            for method, spec in methods.items():
                if method in paths.setdefault(path, {}):
                    raise ValueError(f"{method.upper()} {path} is described twice")
                paths[path][method] = spec
        security_schemes.update(part.security_schemes)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatgate",
            "version": version,
            "description": "The native REST API (`/v1`), the vendor dialects, files and "
            "operations. Bodies are JSON objects; fields not named here are ignored. The "
            "visitor routes answer CORS for their widget's origins (docs/api.md, CORS). The "
            "WebSocket protocol (`GET /ws`) is described by the AsyncAPI document at "
            "`/asyncapi.json`.",
        },
        "tags": [{"name": p.tag, "description": p.description} for p in _by_tag(parts)],
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": security_schemes},
        "security": [{"bearer": []}, {"session": []}],
    }


# -- building blocks (the dialects use them too) -----------------------------------------


def answer(
    description: str, content: Mapping[str, Any] | None = None, **headers: Any
) -> dict[str, Any]:
    """A response object; every answer carries ``X-Request-Id``."""
    spec: dict[str, Any] = {
        "description": description,
        "headers": {"X-Request-Id": REQUEST_ID, **headers},
    }
    if content is not None:
        spec["content"] = content
    return spec


def json_content(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def error_answers(
    statuses: Iterable[int], schema: Mapping[str, Any], meanings: Mapping[int, str]
) -> dict[str, Any]:
    """The error answers for ``statuses``, each described by ``meanings``, in ``schema``."""
    answers = {}
    for status in sorted(statuses):
        headers = RATE_LIMIT_HEADERS if status == 429 else {}
        answers[str(status)] = answer(meanings[status], json_content(schema), **headers)
    return answers


def native_meanings() -> dict[int, str]:
    """Per HTTP status, the native codes that answer it and what each means."""
    meanings: dict[int, list[str]] = {}
    for code, meaning in MEANINGS.items():
        meanings.setdefault(HTTP_STATUS[code], []).append(f"`{code.value}`: {meaning}")
    return {status: "; ".join(parts) for status, parts in meanings.items()}


def path_parameter(name: str, schema: Mapping[str, Any], description: str = "") -> dict[str, Any]:
    parameter = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def header_parameter(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }


def idempotency_key() -> dict[str, Any]:
    return header_parameter(
        "Idempotency-Key",
        {"type": "string", "pattern": IDEMPOTENCY_KEY},
        "1 to 255 printable ASCII characters. The first answer (not a 5xx or 429) is kept "
        "for 24 h: the same key with the same body answers it again (`Idempotent-Replayed: "
        "true`), with another body `409 idempotency_conflict`.",
    )


def _by_tag(parts: Sequence[ApiSection]) -> list[ApiSection]:
    seen: dict[str, ApiSection] = {}
    for part in parts:
        seen.setdefault(part.tag, part)
    return list(seen.values())


# -- the native API ----------------------------------------------------------------------

_TAGS: Final = {
    "conversations": "Conversations and their messages (docs/api.md)",
    "sessions": "Visitor sessions and socket tokens",
    "admin": "An org's widgets, agents and API keys (API key or admin agent)",
    "webhooks": "Webhook endpoints, deliveries and replays (API key or admin agent;"
    " docs/webhooks.md)",
    "auth": "Agent sign-in, sessions, invitations and password resets (docs/dashboard.md)",
    "bots": "Bots, the first responders of a widget's conversations (API key or admin agent;"
    " docs/bots.md)",
    "presence": "Agents online, away or offline, and who is viewing a conversation "
    "(docs/protocol.md, Presence)",
    "search": "Search conversations by contact and message text (docs/api.md, Search)",
    "contacts": "Who a visitor is: name, email, metadata (staff; docs/api.md, Contacts)",
    "knowledge": "The knowledge base bots answer from: articles, imported pages, a test search"
    " (API key or admin agent; docs/knowledge.md)",
}
#: Operations that may find the conversation in a state that refuses them.
_LIFECYCLE: Final = {cmd.SendMessage, cmd.UpdateConversation, cmd.EndConversation}


def _native_sections(schemas: SchemaSet, error: Mapping[str, Any]) -> list[ApiSection]:
    meanings = native_meanings()
    paths: dict[str, dict[str, dict[str, Any]]] = {tag: {} for tag in _TAGS}
    commands = schemas.requests([op.command for op in OPERATIONS])
    results = schemas.answers([op.result for op in OPERATIONS])
    for op, command, result in zip(OPERATIONS, commands, results, strict=True):
        spec = _operation(op, command, result, schemas)
        spec["responses"].update(error_answers(_error_statuses(op), error, meanings))
        paths[op.tag].setdefault(op.path, {})[op.method.lower()] = spec
    for op in OPERATIONS:  # inlined in their operations (without the path's fields)
        schemas.components.pop(op.command.__name__, None)
    return [ApiSection(tag, _TAGS[tag], paths[tag]) for tag in _TAGS]


def _operation(
    op: Operation, command_ref: dict[str, Any], result: dict[str, Any], schemas: SchemaSet
) -> dict[str, Any]:
    name = op.command.__name__
    command = copy.deepcopy(schemas.components[name]) if "$ref" in command_ref else command_ref
    properties: dict[str, Any] = command.get("properties", {})
    required = set(command.get("required", []))
    path_params = _PATH_PARAM.findall(op.path)
    parameters = [path_parameter(p, properties.pop(p)) for p in path_params]
    required -= set(path_params)
    spec: dict[str, Any] = {
        "operationId": name,
        "summary": op.summary,
        "tags": [op.tag],
        # Who may call it (docs/dashboard.md "Roles"): admin, agent or anyone.
        "x-chatgate-role": op.role,
        "parameters": parameters,
        "responses": {str(op.status): answer("OK", json_content(result))},
    }
    if op.method == "GET":
        parameters.extend(
            {"name": key, "in": "query", "required": key in required, "schema": schema}
            for key, schema in properties.items()
        )
    elif op.method in ("POST", "PATCH"):
        command["properties"] = properties
        command["required"] = sorted(required)
        if not command["required"]:
            del command["required"]
        spec["requestBody"] = {
            # A POST without a body stands for {}; a PATCH needs one.
            "required": op.method == "PATCH" or bool(required),
            "content": json_content(command),
        }
    if op.method == "POST" and op.tag != "auth":  # sign-in and links are never replayed
        parameters.append(idempotency_key())
    if op.anonymous:
        spec["security"] = [{}, {"bearer": []}]
    if op.anonymous and op.tag == "sessions":
        parameters.append(
            header_parameter(
                "Origin",
                {"type": "string"},
                "Sent by browsers; checked against the widget's allowed_origins",
            )
        )
    return spec


def _error_statuses(op: Operation) -> set[int]:
    statuses = {401, 403, 408, 429, 503}
    if op.method in ("POST", "PATCH"):
        statuses |= {400, 413, 422}
    if "{" in op.path or _has_fields(op.command):
        statuses.add(400)  # U+0000 in a path or query parameter
    if op.method == "POST":
        statuses |= {409, 422}  # Idempotency-Key
    if _names_ids(op.command):
        statuses |= {404, 422}
    if _has_fields(op.command):
        statuses.add(422)
    if op.command in _LIFECYCLE:
        statuses |= {400, 409}
    if op.command is cmd.ReplayWebhookDelivery:
        statuses.add(400)  # a delivery neither dead nor delivered
    return statuses


def _names_ids(command: type[Any]) -> bool:
    """Whether ``command`` names a resource by id (so may answer ``not_found``)."""
    info = mi.type_info(command)
    assert isinstance(info, mi.DataclassType)

    def uuid_in(t: mi.Type) -> bool:
        if isinstance(t, mi.UUIDType):
            return True
        if isinstance(t, mi.UnionType):
            return any(uuid_in(option) for option in t.types)
        return False

    return any(uuid_in(f.type) for f in info.fields) or command is cmd.GetWebhookDelivery


def _has_fields(command: type[Any]) -> bool:
    info = mi.type_info(command)
    return isinstance(info, mi.DataclassType) and bool(info.fields)


# -- files and operations ----------------------------------------------------------------

_UPLOAD_SCHEMA: Final = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "description": "The file: one part, not empty",
            "type": "string",
            "format": "binary",
            "minLength": 1,
        }
    },
    # Other form fields are read and ignored, up to 10; a second file is refused.
    "additionalProperties": {"type": "string"},
    "maxProperties": 11,
}
_ATTACHMENT: Final = {
    "type": "object",
    "required": ["url", "mime", "size", "sha256"],
    "properties": {
        "url": {"type": "string", "description": "/v1/files/{sha256}, or under the public URL"},
        "mime": {"type": "string"},
        "size": {"type": "integer", "minimum": 1},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "name": {"type": "string"},
    },
}
SHA256: Final = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_UUID: Final = {"type": "string", "format": "uuid"}


def upload_body() -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": _UPLOAD_SCHEMA}}}


def _files_section(error: Mapping[str, Any]) -> ApiSection:
    meanings = native_meanings()
    upload = {
        "operationId": "StoreUpload",
        "summary": "Upload a file into a conversation (multipart/form-data, one part 'file'); "
        "needs a Content-Length",
        "tags": ["files"],
        "x-chatgate-role": "agent",
        "parameters": [path_parameter("conversation_id", _UUID)],
        "requestBody": upload_body(),
        "responses": {
            "201": answer("The attachment to reference in a message", json_content(_ATTACHMENT)),
            **error_answers({401, 403, 404, 408, 413, 422, 429, 503}, error, meanings),
        },
    }
    download = {
        "operationId": "GetFile",
        "summary": "Read a stored file: staff any of their org, a visitor only those of "
        "their own conversations",
        "tags": ["files"],
        "x-chatgate-role": "agent",
        "parameters": [
            path_parameter("sha256", SHA256),
            header_parameter(
                "If-None-Match", {"type": "string"}, 'The ETag ("<sha256>") of a cached copy'
            ),
        ],
        "responses": {
            "200": answer(
                "The file's bytes, with its type (a download unless an image)",
                {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                ETag={"schema": {"type": "string"}, "required": True},
            ),
            "304": answer("The cached copy is current"),
            **error_answers({401, 403, 404, 408, 422, 429, 503}, error, meanings),
        },
    }
    return ApiSection(
        "files",
        "Files attached to messages, one content-addressed store per org",
        {
            "/v1/conversations/{conversation_id}/files": {"post": upload},
            "/v1/files/{sha256}": {"get": download},
        },
    )


def _operations_section() -> ApiSection:
    def get(name: str, summary: str, *answers: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            "get": {
                "operationId": name,
                "summary": summary,
                "tags": ["operations"],
                "security": [],
                "responses": dict(answers),
            }
        }

    checks = {"enum": ["ok", "unavailable"]}
    ready = {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "required": ["store", "broker"],
                "properties": {"store": checks, "broker": checks},
            },
        },
    }
    health = {
        "type": "object",
        "required": ["status", "node"],
        "properties": {"status": {"const": "ok"}, "node": {"type": "string"}},
    }
    document = json_content({"type": "object"})
    asset = {"type": "string", "format": "binary"}
    script = {"text/javascript": {"schema": {"type": "string"}}}
    docs = get(
        "GetDocsAsset",
        "A file of the docs page (Swagger UI, from the swagger-ui-bundle package)",
        ("200", answer("The file", {t: {"schema": asset} for t in sorted(set(ASSETS.values()))})),
        ("404", answer("No such file", json_content({"$ref": REF.format(name="Error")}))),
    )
    docs["get"]["parameters"] = [path_parameter("name", {"enum": list(ASSETS)})]
    page = {"text/html": {"schema": {"type": "string"}}}
    dashboard_about = (
        "The agent dashboard's page (docs/dashboard.md); its script routes by path. "
        "404 when no dashboard is built"
    )
    dashboard = get(
        "Dashboard",
        dashboard_about,
        ("200", answer("The page", page)),
        ("404", answer("No dashboard built", {"text/plain": {"schema": {"type": "string"}}})),
    )
    dashboard_path = get(
        "DashboardPage",
        dashboard_about,
        ("200", answer("The page", page)),
        ("404", answer("No dashboard built", {"text/plain": {"schema": {"type": "string"}}})),
    )
    dashboard_path["get"]["parameters"] = [path_parameter("path", {"type": "string"})]
    return ApiSection(
        "operations",
        "Health, readiness, metrics and these documents (no credentials)",
        {
            "/healthz": get(
                "Health", "The process is up", ("200", answer("Up", json_content(health)))
            ),
            "/readyz": get(
                "Ready",
                "The store and the broker answer",
                ("200", answer("Ready", json_content(ready))),
                ("503", answer("Not ready: see checks", json_content(ready))),
            ),
            "/metrics": get(
                "Metrics",
                "Prometheus metrics",
                ("200", answer("The metrics", {"text/plain": {"schema": {"type": "string"}}})),
            ),
            "/openapi.json": get(
                "OpenApi", "This document", ("200", answer("OpenAPI 3.1", document))
            ),
            "/asyncapi.json": get(
                "AsyncApi",
                "The WebSocket protocol (GET /ws)",
                ("200", answer("AsyncAPI 3.0", document)),
            ),
            "/docs": get(
                "Docs",
                "Swagger UI over this document, served by the gateway (works offline)",
                ("200", answer("The page", {"text/html": {"schema": {"type": "string"}}})),
            ),
            "/docs/assets/{name}": docs,
            "/widget.js": get(
                "WidgetScript",
                "The chat widget's script, for one tag on a customer's page (docs/widget.md)",
                ("200", answer("The script", script)),
            ),
            "/sdk.js": get(
                "SdkModule",
                "The JavaScript SDK as an ES module (docs/sdk-js.md)",
                ("200", answer("The module", script)),
            ),
            "/app": dashboard,
            "/app/{path}": dashboard_path,
        },
    )
