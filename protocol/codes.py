"""Stable codes: error codes (with their HTTP status) and WebSocket close codes.

Error codes are strings on the wire and never change meaning. Close codes follow RFC 6455:
1000-1015 are the standard ones, 4000-4999 are ours:

====  =====================  ====================================================
code  name                   meaning
====  =====================  ====================================================
1000  NORMAL                 the client or server ended the session
1001  GOING_AWAY             the server is shutting down; reconnect and resume
1009  MESSAGE_TOO_BIG        an inbound frame exceeded the frame limit (64 KiB)
1011  INTERNAL_ERROR         unexpected server failure; reconnect and resume
4001  UNAUTHENTICATED        no ``hello`` in time, a missing/invalid token, or its API key
                             was revoked; get a new credential
4003  FORBIDDEN              the token is valid but not allowed here (origin), or its agent
                             is disabled or deleted; do not reconnect with it
4008  SLOW_CONSUMER          the client did not read fast enough; resume by seq
4400  PROTOCOL_ERROR         the first frame could not be decoded
====  =====================  ====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

__all__ = ["HTTP_STATUS", "CloseCode", "ErrorCode"]


class ErrorCode(StrEnum):
    """Error codes carried in error replies and REST error envelopes."""

    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    UNKNOWN_OP = "unknown_op"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID_STATE = "invalid_state"
    CONTROL_LOST = "control_lost"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    ATTACHMENT_REJECTED = "attachment_rejected"
    PAGE_REJECTED = "page_rejected"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"
    # Agent accounts (docs/dashboard.md).
    INVALID_CREDENTIALS = "invalid_credentials"
    SIGN_IN_LOCKED = "sign_in_locked"
    CSRF_FAILED = "csrf_failed"
    WEAK_PASSWORD = "weak_password"
    EMAIL_TAKEN = "email_taken"
    INVALID_LINK = "invalid_link"


HTTP_STATUS: Final[Mapping[ErrorCode, int]] = MappingProxyType(
    {
        ErrorCode.BAD_REQUEST: 400,
        ErrorCode.VALIDATION_ERROR: 422,
        ErrorCode.UNKNOWN_OP: 400,
        ErrorCode.UNAUTHORIZED: 401,
        ErrorCode.FORBIDDEN: 403,
        ErrorCode.NOT_FOUND: 404,
        ErrorCode.METHOD_NOT_ALLOWED: 405,
        ErrorCode.INVALID_STATE: 400,
        ErrorCode.CONTROL_LOST: 409,
        ErrorCode.IDEMPOTENCY_CONFLICT: 409,
        ErrorCode.PAYLOAD_TOO_LARGE: 413,
        ErrorCode.REQUEST_TIMEOUT: 408,
        ErrorCode.RATE_LIMITED: 429,
        ErrorCode.QUOTA_EXCEEDED: 403,
        ErrorCode.ATTACHMENT_REJECTED: 422,
        ErrorCode.PAGE_REJECTED: 422,
        ErrorCode.INTERNAL: 500,
        ErrorCode.UNAVAILABLE: 503,
        ErrorCode.INVALID_CREDENTIALS: 401,
        ErrorCode.SIGN_IN_LOCKED: 429,
        ErrorCode.CSRF_FAILED: 403,
        ErrorCode.WEAK_PASSWORD: 422,
        ErrorCode.EMAIL_TAKEN: 409,
        ErrorCode.INVALID_LINK: 400,
    }
)


class CloseCode(IntEnum):
    """WebSocket close codes the server sends."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    UNAUTHENTICATED = 4001
    FORBIDDEN = 4003
    SLOW_CONSUMER = 4008
    PROTOCOL_ERROR = 4400
