"""Turn decoded JSON into typed commands and frames, or a ``validation_error``."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from protocol import formats, urls
from protocol.bounds import TooLarge, decode_hook
from protocol.codes import ErrorCode
from protocol.errors import ProtocolError

__all__ = ["Invalid", "parse"]

T = TypeVar("T")

# msgspec ends its messages with "- at `$.field`", or "- at `key` in `$.map`" for a bad key.
_PATH = re.compile(r"`(?P<path>\$[^`]*)`$")

# msgspec names a pattern a string failed by quoting the regex; these read better.
_PATTERNS = {
    f"`str` matching regex {urls.ORIGIN!r}": (
        "an origin: `*`, `http(s)://host[:port]` or `http(s)://*.domain[:port]`"
    ),
    f"`str` matching regex {urls.URL!r}": "an absolute `http(s)://` URL with a valid host",
    **{f"`str` matching regex {regex!r}": said for regex, said in formats.DESCRIPTIONS.items()},
}


class Invalid(ValueError):
    """A rule a command checks itself (in ``__post_init__``), with the path of the offending
    value below the command (``at=".event_types[1]"``), so ``parse`` can report its full
    path."""

    def __init__(self, message: str, *, at: str) -> None:
        super().__init__(message)
        self.at = at


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
        for regex, description in _PATTERNS.items():
            text = text.replace(regex, description)
        match = _PATH.search(text)
        path = match["path"] if match else None
        cause = exc.__cause__
        if isinstance(cause, Invalid):
            path = (path or "$") + cause.at
            text = f"{cause} - at `{path}`"
        code = ErrorCode.PAYLOAD_TOO_LARGE if isinstance(cause, TooLarge) else None
        details = {"path": path} if path else None
        raise ProtocolError(code or ErrorCode.VALIDATION_ERROR, text, details=details) from None
