"""What the dialects share: error tables, path ids, and how an ended conversation looks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from starlette.requests import Request

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Status

__all__ = ["ENDED", "ErrorTable", "VendorError", "ended", "path_id"]

#: Statuses in which a conversation has ended (a thread that takes no more requests).
ENDED = frozenset({Status.CLOSED.value, Status.ARCHIVED.value})


@dataclass(frozen=True, slots=True)
class VendorError:
    status: int
    code: str


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """A dialect's error codes: native code -> (HTTP status, vendor code), with a fallback."""

    codes: Mapping[ErrorCode, VendorError]
    fallback: VendorError

    def lookup(self, exc: GatewayError) -> VendorError:
        return self.lookup_code(exc.code)

    def lookup_code(self, code: ErrorCode) -> VendorError:
        return self.codes.get(code, self.fallback)


def ended(exc: GatewayError) -> bool:
    """True when ``exc`` refuses a request because the conversation has ended."""
    details = exc.details if isinstance(exc.details, dict) else {}
    return exc.code is ErrorCode.INVALID_STATE and details.get("status") in ENDED


def path_id(request: Request, name: str, what: str) -> UUID:
    """The id in path parameter ``name``; one that is not an id names nothing: ``not_found``."""
    try:
        return UUID(request.path_params[name])
    except ValueError:
        raise GatewayError.not_found(what) from None
