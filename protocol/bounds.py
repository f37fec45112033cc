"""Bounds on what a client may send: how deep a document nests, and what ``metadata`` holds.

Every REST body and socket frame is decoded by a codec of ``protocol.encoding``, which refuses
a document nested deeper than ``MAX_DEPTH``; every ``metadata`` field of a command is a
``Metadata``, which ``validation.parse`` checks with ``check_metadata``. So REST, the socket
and the vendor dialects share one set of limits, checked once, before anything is stored:

========================  ==========  ==================================================
what                      limit       over it
========================  ==========  ==================================================
a body or frame           32 levels   ``bad_request`` (400), ``details.max_depth``
``metadata``              8 levels    ``validation_error`` (422), ``details.path``
``metadata``              50 keys     ``validation_error`` (422), ``details.path``
``metadata``              16 KiB      ``payload_too_large`` (413), ``details.path``
``metadata`` text         no U+0000   ``validation_error`` (422), ``details.path``
========================  ==========  ==================================================

A level is one object or array: ``{"a": 1}`` nests 1 level, ``{"a": {"b": [1]}}`` 3. The size
is that of the metadata encoded as compact JSON, in bytes; keys are counted at the top level
(the size bounds the rest). U+0000 is refused in keys and strings because PostgreSQL cannot
store it in ``jsonb``.

Why: what is stored is encoded again in every reply, event and webhook, inside envelopes a
few levels deep, and orjson's encoder stops at 254 levels. Bounds well below the codecs' own
limits (orjson decodes up to 1024 levels, msgpack as many) keep every stored value
encodable, and keep one anonymous request from storing a megabyte.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from protocol.codes import ErrorCode
from protocol.errors import ProtocolError

__all__ = [
    "MAX_DEPTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_METADATA_KEYS",
    "Metadata",
    "TooLarge",
    "check_depth",
    "check_metadata",
    "check_text",
    "decode_hook",
    "metadata_schema",
    "nesting",
    "too_deep",
]

MAX_DEPTH: Final = 32
MAX_METADATA_DEPTH: Final = 8
MAX_METADATA_KEYS: Final = 50
MAX_METADATA_BYTES: Final = 16 * 1024

_CONTAINERS = (dict, list)


class TooLarge(ValueError):
    """A value over a size limit: ``parse`` answers ``payload_too_large``, not
    ``validation_error``."""


class Metadata(dict[str, Any]):
    """Free-form JSON an integration attaches to a contact, conversation or message.

    A plain ``dict`` to everything that reads it; as a command field's type it tells
    ``validation.parse`` to check the value with ``check_metadata``.
    """


def nesting(value: Any, limit: int) -> int:
    """How many levels of objects and arrays ``value`` nests, counted up to ``limit + 1``.

    Breadth first and without recursion, so no document is too deep to measure.
    """
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level and depth <= limit:
        depth += 1
        level = [
            child
            for parent in level
            for child in (parent.values() if isinstance(parent, dict) else parent)
            if isinstance(child, _CONTAINERS)
        ]
    return depth


def too_deep() -> ProtocolError:
    """The error for a body or frame nested deeper than ``MAX_DEPTH``."""
    return ProtocolError(
        ErrorCode.BAD_REQUEST,
        f"the document is nested deeper than {MAX_DEPTH} levels",
        details={"max_depth": MAX_DEPTH},
    )


def check_depth(value: Any) -> Any:
    """``value`` (a decoded body or frame), if it nests at most ``MAX_DEPTH`` levels.

    Raises:
        ProtocolError: ``bad_request`` with ``details.max_depth``.
    """
    if nesting(value, MAX_DEPTH) > MAX_DEPTH:
        raise too_deep()
    return value


def check_text(value: Any) -> Any:
    """``value`` (a decoded body or frame), if no string or key in it holds U+0000.

    PostgreSQL cannot store that character in text, and no chat message needs it, so it is
    refused at decode on every surface alike rather than by one store.

    Raises:
        ProtocolError: ``bad_request`` (a property of the whole document, like its depth).
    """
    if _has_nul(value):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "text may not contain U+0000 (NUL)")
    return value


def check_metadata(value: Any) -> Metadata:
    """``value`` as ``Metadata``, if it is an object within the limits above.

    Raises:
        TypeError: not an object.
        ValueError: too many keys, too deep, U+0000 in a key or string, or not JSON.
        TooLarge: more than ``MAX_METADATA_BYTES`` encoded.
    """
    if not isinstance(value, dict):
        raise TypeError(f"Expected `object`, got `{_json_type(value)}`")
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata may have at most {MAX_METADATA_KEYS} keys")
    if nesting(value, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata may nest at most {MAX_METADATA_DEPTH} levels")
    try:
        encoded = orjson.dumps(value)
    except TypeError:  # a value that is not JSON, when a command is built in code
        raise ValueError("metadata must hold JSON values only") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise TooLarge(f"metadata may take at most {MAX_METADATA_BYTES} bytes as JSON")
    if b"\\u0000" in encoded and _has_nul(value):
        raise ValueError("metadata may not contain U+0000")
    return value if isinstance(value, Metadata) else Metadata(value)


def decode_hook(type_: type[Any], value: Any) -> Any:
    """msgspec's ``dec_hook`` for the types of this module."""
    if type_ is Metadata:
        return check_metadata(value)
    raise NotImplementedError(f"no decoder for {type_!r}")


def metadata_schema() -> dict[str, Any]:
    """The JSON Schema of ``Metadata`` (for the OpenAPI document)."""
    return {
        "type": "object",
        "maxProperties": MAX_METADATA_KEYS,
        "description": (
            f"Free-form JSON: at most {MAX_METADATA_KEYS} keys, {MAX_METADATA_DEPTH} levels "
            f"deep and {MAX_METADATA_BYTES} bytes encoded; no U+0000."
        ),
    }


def _has_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                return True
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and "\x00" in item:
            return True
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "null"
    return type(value).__name__
