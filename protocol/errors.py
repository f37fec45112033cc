"""Errors that cross the wire.

::

    ChatgateError
    ├── GatewayError        an error reply: code, message, details; the connection stays open
    │   └── ProtocolError   a frame or body could not be decoded or validated
    └── Disconnect          close the WebSocket with a close code and reason

``GatewayError`` is what every command handler raises for a failure the client should see;
REST turns it into the error envelope with the HTTP status from ``codes.HTTP_STATUS``, the
socket turns it into ``{"op": "reply", "ok": false, "error": {...}}``.
"""

from __future__ import annotations

from typing import Any

from protocol.codes import HTTP_STATUS, CloseCode, ErrorCode

__all__ = ["ChatgateError", "Disconnect", "GatewayError", "ProtocolError"]


class ChatgateError(Exception):
    """Base class of every error chatgate raises on purpose."""


class GatewayError(ChatgateError):
    """A failure reported to the client as a stable error code.

    Args:
        code: the stable error code.
        message: a human-readable sentence; never a traceback or internal detail.
        details: optional decoded-JSON detail (e.g. the field that failed validation).
        temporary: whether retrying the same request later may succeed.
        retry_after: seconds the client should wait before retrying, when known.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        details: Any = None,
        temporary: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.temporary = temporary
        self.retry_after = retry_after

    @classmethod
    def not_found(cls, what: str, path: str | None = None) -> GatewayError:
        """``not_found`` for ``what``; ``path`` names the request field that held the id.

        The same answer for an id that does not exist and for one of another org.
        """
        details = {"path": path} if path else None
        return cls(ErrorCode.NOT_FOUND, f"{what} not found", details=details)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_wire(self) -> dict[str, Any]:
        """The ``error`` object of a reply or a REST envelope."""
        error: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return error

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r})"


class ProtocolError(GatewayError):
    """A frame or request body that could not be decoded or did not validate.

    ``ref`` is the client's correlation id of the offending frame, when it could be read.
    """

    ref: str | int | None = None


class Disconnect(ChatgateError):
    """Close the WebSocket with ``code``; raised inside a session, never sent as a reply."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
