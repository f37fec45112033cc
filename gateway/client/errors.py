"""The one error the client raises.

::

    ClientError           code: a gateway error code (protocol.codes.ErrorCode) or one of
                          the client's own: disconnected, closed, timeout, network

``close_code`` is set when the gateway closed the socket for good (4001, 4003, 4400): the
client stopped reconnecting, and every pending call fails with that error.
"""

from __future__ import annotations

from typing import Any, Final

from protocol.codes import CloseCode, ErrorCode

__all__ = ["CLOSED", "DISCONNECTED", "NETWORK", "TIMEOUT", "ClientError"]

#: The socket dropped before the reply came (the request may or may not have run).
DISCONNECTED: Final = "disconnected"
#: ``aclose()`` was called, or the client stopped after a refusal.
CLOSED: Final = "closed"
#: No reply in time; the client also gives the socket up and reconnects.
TIMEOUT: Final = "timeout"
#: No answer from the gateway over HTTP.
NETWORK: Final = "network"

#: What a refusal close code becomes as an error code.
_CLOSE_ERRORS: Final[dict[int, str]] = {
    CloseCode.UNAUTHENTICATED: ErrorCode.UNAUTHORIZED,
    CloseCode.FORBIDDEN: ErrorCode.FORBIDDEN,
    CloseCode.PROTOCOL_ERROR: ErrorCode.BAD_REQUEST,
}


class ClientError(Exception):
    """A failed call: the gateway's error reply or REST error, or the client's own.

    Args:
        code: the stable code.
        message: a sentence saying what happened.
        details: the gateway's ``details``, if any.
        status: the HTTP status of a REST error.
        close_code: the close code that stopped the client, if one did.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: Any = None,
        status: int | None = None,
        close_code: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        self.status = status
        self.close_code = close_code

    @classmethod
    def from_body(cls, body: Any, *, status: int | None = None) -> ClientError:
        """From ``{"code", "message", "details"?}`` (a reply's ``error``, REST's ``error``)."""
        if not isinstance(body, dict):
            return cls("internal", f"an unreadable error: {body!r}", status=status)
        return cls(
            str(body.get("code", "internal")),
            str(body.get("message", "")),
            details=body.get("details"),
            status=status,
        )

    @classmethod
    def from_close(cls, code: int, reason: str) -> ClientError:
        error = _CLOSE_ERRORS.get(code, CLOSED)
        text = f"the gateway closed the socket ({code}{': ' + reason if reason else ''})"
        return cls(error, text, close_code=code)
