"""Turn decoded JSON into typed commands and frames, or a ``validation_error``."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

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

    Raises:
        ProtocolError: ``validation_error``, with ``details.path`` naming the field.
    """
    if not isinstance(payload, dict):
        raise ProtocolError(ErrorCode.VALIDATION_ERROR, "expected a JSON object")
    try:
        return msgspec.convert(payload, cls, strict=strict)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        details = {"path": match["path"]} if match else None
        raise ProtocolError(ErrorCode.VALIDATION_ERROR, text, details=details) from None
