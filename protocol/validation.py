"""Turn decoded JSON into typed commands and frames, or a ``validation_error``."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from protocol.bounds import TooLarge, decode_hook
from protocol.codes import ErrorCode
from protocol.errors import ProtocolError

__all__ = ["parse"]

T = TypeVar("T")

# msgspec ends its messages with "- at `$.field`", or "- at `key` in `$.map`" for a bad key.
_PATH = re.compile(r"`(?P<path>\$[^`]*)`$")


def parse(cls: type[T], payload: Any, *, strict: bool = True) -> T:
    """Validate ``payload`` against ``cls`` (a frozen dataclass).

    Unknown fields are ignored; wrong types, missing fields and broken constraints are not.
    ``strict=False`` lets strings stand for numbers and booleans (URL query parameters).
    ``metadata`` fields are checked against ``protocol.bounds``.

    Raises:
        ProtocolError: ``validation_error``, with ``details.path`` naming the field;
            ``payload_too_large`` for a value over a size limit, with ``details.path``.
    """
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.VALIDATION_ERROR, "expected a JSON object")
    try:
        return msgspec.convert(payload, cls, strict=strict, dec_hook=decode_hook)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        path = match["path"] if match else None
        code = ErrorCode.PAYLOAD_TOO_LARGE if isinstance(exc.__cause__, TooLarge) else None
        details = {"path": path} if path else None
        raise ProtocolError(code or ErrorCode.VALIDATION_ERROR, text, details=details) from None
