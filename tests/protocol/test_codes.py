"""Error codes, their HTTP status table, and WebSocket close codes."""

from __future__ import annotations

import pytest

from protocol.codes import HTTP_STATUS, CloseCode, ErrorCode


def test_http_status_covers_every_error_code():
    """Every ErrorCode has an HTTP status, and the table holds nothing else."""
    assert set(HTTP_STATUS) == set(ErrorCode)


def test_http_status_values_are_client_or_server_errors():
    """Every status in the table is a 4xx or 5xx."""
    assert all(400 <= status <= 599 for status in HTTP_STATUS.values())


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.BAD_REQUEST, 400),
        (ErrorCode.VALIDATION_ERROR, 422),
        (ErrorCode.UNKNOWN_OP, 400),
        (ErrorCode.UNAUTHORIZED, 401),
        (ErrorCode.FORBIDDEN, 403),
        (ErrorCode.NOT_FOUND, 404),
        (ErrorCode.METHOD_NOT_ALLOWED, 405),
        (ErrorCode.INVALID_STATE, 400),
        (ErrorCode.CONTROL_LOST, 409),
        (ErrorCode.IDEMPOTENCY_CONFLICT, 409),
        (ErrorCode.PAYLOAD_TOO_LARGE, 413),
        (ErrorCode.RATE_LIMITED, 429),
        (ErrorCode.QUOTA_EXCEEDED, 403),
        (ErrorCode.ATTACHMENT_REJECTED, 422),
        (ErrorCode.PAGE_REJECTED, 422),
        (ErrorCode.INTERNAL, 500),
        (ErrorCode.UNAVAILABLE, 503),
        (ErrorCode.INVALID_CREDENTIALS, 401),
        (ErrorCode.SIGN_IN_LOCKED, 429),
        (ErrorCode.CSRF_FAILED, 403),
        (ErrorCode.WEAK_PASSWORD, 422),
        (ErrorCode.EMAIL_TAKEN, 409),
        (ErrorCode.INVALID_LINK, 400),
    ],
)
def test_http_status_matches_design(code, status):
    """The one ErrorCode -> HTTP status table matches the design."""
    assert HTTP_STATUS[code] == status


def test_http_status_is_read_only():
    """The status table cannot be changed at run time."""
    with pytest.raises(TypeError):
        HTTP_STATUS[ErrorCode.INTERNAL] = 200  # type: ignore[index]


@pytest.mark.parametrize(
    ("code", "wire"),
    [
        (ErrorCode.BAD_REQUEST, "bad_request"),
        (ErrorCode.VALIDATION_ERROR, "validation_error"),
        (ErrorCode.UNKNOWN_OP, "unknown_op"),
        (ErrorCode.INVALID_STATE, "invalid_state"),
        (ErrorCode.CONTROL_LOST, "control_lost"),
        (ErrorCode.IDEMPOTENCY_CONFLICT, "idempotency_conflict"),
        (ErrorCode.RATE_LIMITED, "rate_limited"),
        (ErrorCode.INTERNAL, "internal"),
    ],
)
def test_error_code_wire_names_are_stable(code, wire):
    """Error codes are lowercase strings on the wire and compare equal to them."""
    assert code.value == wire
    assert code == wire
    assert ErrorCode(wire) is code


def test_error_code_wire_names_are_snake_case():
    """Every error code is a lowercase snake_case wire string."""
    for code in ErrorCode:
        assert code.value == code.name.lower()


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (CloseCode.NORMAL, 1000),
        (CloseCode.GOING_AWAY, 1001),
        (CloseCode.MESSAGE_TOO_BIG, 1009),
        (CloseCode.INTERNAL_ERROR, 1011),
        (CloseCode.UNAUTHENTICATED, 4001),
        (CloseCode.FORBIDDEN, 4003),
        (CloseCode.SLOW_CONSUMER, 4008),
        (CloseCode.PROTOCOL_ERROR, 4400),
    ],
)
def test_close_code_values(code, value):
    """Close codes keep their documented numbers."""
    assert int(code) == value


def test_close_codes_are_standard_or_private_range():
    """Close codes are RFC 6455 standard ones (1000-1015) or ours (4000-4999)."""
    for code in CloseCode:
        assert 1000 <= code <= 1015 or 4000 <= code <= 4999, code
