"""The OpenAPI 3.1 document, generated from ``routes.OPERATIONS`` and the command and result
types (msgspec JSON Schema), plus the ``/docs`` page."""

from __future__ import annotations

import copy
import html
import re
from typing import Any

import msgspec

from gateway.http.routes import OPERATIONS, Operation
from protocol.bounds import Metadata, metadata_schema
from protocol.codes import HTTP_STATUS

__all__ = ["docs_page", "openapi_document"]

REF = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"{(\w+)}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "request_id"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(c.value for c in HTTP_STATUS)},
                "message": {"type": "string"},
                "details": {},
            },
        },
        "request_id": {"type": "string"},
    },
}


_ERROR_RESPONSE = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
}
_ID = {"type": "string", "format": "uuid"}
#: The file routes (gateway/http/files.py): multipart in, bytes out, outside the JSON table.
FILE_PATHS: dict[str, Any] = {
    "/v1/conversations/{conversation_id}/files": {
        "post": {
            "operationId": "StoreUpload",
            "summary": "Upload a file for a conversation (one multipart part named 'file')",
            "tags": ["files"],
            "parameters": [
                {"name": "conversation_id", "in": "path", "required": True, "schema": _ID}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "The attachment to reference in a message",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["url", "mime", "size", "sha256"],
                                "properties": {
                                    "url": {"type": "string"},
                                    "mime": {"type": "string"},
                                    "size": {"type": "integer"},
                                    "sha256": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "default": _ERROR_RESPONSE,
            },
        }
    },
    "/v1/files/{sha256}": {
        "get": {
            "operationId": "GetFile",
            "summary": "Read a stored file: staff any of their org, a visitor only those of"
            " their own conversations",
            "tags": ["files"],
            "parameters": [
                {
                    "name": "sha256",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file's bytes",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "default": _ERROR_RESPONSE,
            },
        }
    },
}


def openapi_document(version: str) -> dict[str, Any]:
    types = [t for op in OPERATIONS for t in (op.command, op.result)]
    _, components = msgspec.json.schema_components(
        types, ref_template=REF, schema_hook=_schema_hook
    )
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    paths.update(FILE_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatgate",
            "version": version,
            "description": "Native REST API. The WebSocket protocol is in docs/protocol.md. "
            "The visitor routes answer CORS for their widget's origins (docs/api.md, CORS).",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (cgk_...) or a token from /v1/tokens or a "
                    "widget session",
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    path_params = _PATH_PARAM.findall(op.path)
    command = copy.deepcopy(components[op.command.__name__])
    properties: dict[str, Any] = command.get("properties", {})
    required = set(command.get("required", []))
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": properties.pop(name)}
        for name in path_params
    ]
    required -= set(path_params)
    spec: dict[str, Any] = {
        "operationId": op.command.__name__,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {"schema": _result_schema(op.result)}},
            },
            "default": _ERROR_RESPONSE,
        },
    }
    if op.method == "GET":
        parameters.extend(
            {"name": name, "in": "query", "required": name in required, "schema": schema}
            for name, schema in properties.items()
        )
    elif op.method in ("POST", "PATCH"):
        command["properties"] = properties
        command["required"] = sorted(required)
        if not command["required"]:
            del command["required"]
        spec["requestBody"] = {
            "required": bool(required),
            "content": {"application/json": {"schema": command}},
        }
        if op.method == "POST":
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 255},
                    "description": "Replays the first response for 24 h (same body), "
                    "409 idempotency_conflict for a different body.",
                }
            )
    if op.anonymous:
        spec["security"] = [{}, {"bearer": []}]
    return spec


def _result_schema(result: Any) -> dict[str, Any]:
    schema, _ = msgspec.json.schema_components([result], ref_template=REF, schema_hook=_schema_hook)
    return schema[0]


def _schema_hook(type_: type[Any]) -> dict[str, Any]:
    if type_ is Metadata:
        return metadata_schema()
    raise NotImplementedError(f"no schema for {type_!r}")


def docs_page(document: dict[str, Any]) -> str:
    """A readable, self-contained list of operations, with Swagger UI on top when the
    browser can load it."""
    rows = "\n".join(
        f"<tr><td><code>{html.escape(method.upper())}</code></td>"
        f"<td><code>{html.escape(path)}</code></td>"
        f"<td>{html.escape(spec['summary'])}</td></tr>"
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chatgate API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}td{{padding:.2rem .8rem}}</style>
</head><body>
<h1>chatgate API</h1>
<p>OpenAPI document: <a href="/openapi.json">/openapi.json</a>.
WebSocket protocol: <code>GET /ws</code>, see docs/protocol.md.</p>
<div id="swagger"></div>
<h2>Operations</h2><table>{rows}</table>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>if (window.SwaggerUIBundle) SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger"}});
</script>
</body></html>"""
