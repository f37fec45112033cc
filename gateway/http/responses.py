"""JSON responses and the one REST error envelope.

Every error a client sees has this shape, whatever went wrong::

    {"error": {"code": "not_found", "message": "...", "details": ...}, "request_id": "..."}

with the HTTP status from ``protocol.codes.HTTP_STATUS``.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.limits.policy import rate_limit_headers
from protocol.codes import ErrorCode
from protocol.encoding import encode_json
from protocol.errors import GatewayError

__all__ = ["error_response", "http_exception_handler", "json_response", "request_id_of"]

JSON_TYPE = "application/json"

_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(encode_json(body), status, headers=headers, media_type=JSON_TYPE)


def error_response(exc: GatewayError, request_id: str) -> Response:
    headers = rate_limit_headers(exc)
    return json_response(
        {"error": exc.to_wire(), "request_id": request_id}, exc.http_status, headers
    )


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method, body too large) in our envelope."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
    message = {
        ErrorCode.NOT_FOUND: "no such route",
        ErrorCode.METHOD_NOT_ALLOWED: f"method {request.method} is not allowed here",
        ErrorCode.PAYLOAD_TOO_LARGE: "request body too large",
    }.get(code, str(exc.detail))
    response = error_response(GatewayError(code, message), request_id_of(request))
    if exc.headers:
        response.headers.update(exc.headers)
    if "allow" in response.headers:  # Starlette lists a route's methods in set order
        methods = (m.strip() for m in response.headers["allow"].split(","))
        response.headers["allow"] = ", ".join(sorted(methods))
    return response
