"""The exception tree: GatewayError, ProtocolError and Disconnect."""

from __future__ import annotations

import pytest

from protocol.codes import HTTP_STATUS, CloseCode, ErrorCode
from protocol.errors import ChatgateError, Disconnect, GatewayError, ProtocolError


def test_gateway_error_to_wire_without_details():
    """Without details the wire error is exactly code and message."""
    error = GatewayError(ErrorCode.NOT_FOUND, "no such conversation")
    assert error.to_wire() == {"code": "not_found", "message": "no such conversation"}


def test_gateway_error_to_wire_with_details():
    """Details go on the wire under ``details``."""
    error = GatewayError(ErrorCode.CONTROL_LOST, "stale epoch", details={"epoch": 3})
    assert error.to_wire() == {
        "code": "control_lost",
        "message": "stale epoch",
        "details": {"epoch": 3},
    }


def test_gateway_error_to_wire_keeps_empty_details():
    """Only ``None`` means no details; an empty object is still sent."""
    error = GatewayError(ErrorCode.BAD_REQUEST, "bad", details={})
    assert error.to_wire()["details"] == {}


def test_gateway_error_to_wire_code_is_plain_string():
    """The wire code is a plain str, not the enum, so any encoder can write it."""
    code = GatewayError(ErrorCode.INTERNAL, "boom").to_wire()["code"]
    assert type(code) is str


@pytest.mark.parametrize("code", list(ErrorCode))
def test_gateway_error_http_status_uses_the_table(code):
    """``http_status`` is the code's entry in HTTP_STATUS."""
    assert GatewayError(code, "x").http_status == HTTP_STATUS[code]


def test_gateway_error_defaults():
    """A new GatewayError is permanent, has no details and no retry hint."""
    error = GatewayError(ErrorCode.FORBIDDEN, "no")
    assert (error.details, error.temporary, error.retry_after) == (None, False, None)
    assert error.message == str(error) == "no"


def test_gateway_error_keeps_retry_hints():
    """``temporary`` and ``retry_after`` are kept as given."""
    error = GatewayError(ErrorCode.RATE_LIMITED, "slow down", temporary=True, retry_after=1.5)
    assert (error.temporary, error.retry_after, error.http_status) == (True, 1.5, 429)


def test_gateway_error_repr_names_code_and_message():
    """The repr shows the class, the code and the message."""
    error = ProtocolError(ErrorCode.UNKNOWN_OP, "unknown op 'x'")
    assert repr(error) == "ProtocolError('unknown_op', \"unknown op 'x'\")"


def test_protocol_error_is_a_gateway_error_without_ref():
    """A ProtocolError is a GatewayError whose ref starts unset."""
    error = ProtocolError(ErrorCode.VALIDATION_ERROR, "bad")
    assert isinstance(error, GatewayError)
    assert isinstance(error, ChatgateError)
    assert error.ref is None
    assert error.http_status == 422


def test_protocol_error_ref_is_per_instance():
    """Setting one error's ref leaves other errors alone."""
    first = ProtocolError(ErrorCode.BAD_REQUEST, "a")
    second = ProtocolError(ErrorCode.BAD_REQUEST, "b")
    first.ref = "c1"
    assert (first.ref, second.ref, ProtocolError.ref) == ("c1", None, None)


def test_disconnect_carries_close_code_and_reason():
    """Disconnect keeps its close code and reason and is not a GatewayError."""
    exc = Disconnect(CloseCode.SLOW_CONSUMER, "slow consumer")
    assert (exc.code, exc.reason, str(exc)) == (
        CloseCode.SLOW_CONSUMER,
        "slow consumer",
        "slow consumer",
    )
    assert isinstance(exc, ChatgateError)
    assert not isinstance(exc, GatewayError)


def test_gateway_error_not_found_names_the_field():
    """not_found says what was missing and, when given, which request field held the id."""
    plain = GatewayError.not_found("widget")
    assert plain.code is ErrorCode.NOT_FOUND and plain.http_status == 404
    assert plain.to_wire() == {"code": "not_found", "message": "widget not found"}
    with_path = GatewayError.not_found("agent", "$.agent_id")
    assert with_path.to_wire()["details"] == {"path": "$.agent_id"}
