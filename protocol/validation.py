"""Turn decoded JSON into typed commands and frames, or a ``validation_error``.

Types are checked strictly: a string is not a number, a bool is not an int. An integer is
any JSON number without a fractional part, however it is written: ``2``, ``2.0`` and
``2e0`` are the same integer, as JSON Schema (and so the OpenAPI document) has it; ``2.5``
is not an integer. What a free-form field (``metadata``) holds is kept as it was written.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from protocol import formats, urls
from protocol.bounds import TooLarge, decode_hook
from protocol.codes import ErrorCode
from protocol.errors import ProtocolError

__all__ = ["PATTERN_NAMES", "Invalid", "parse"]

T = TypeVar("T")

# msgspec ends its messages with "- at `$.field`", or "- at `key` in `$.map`" for a bad key.
_PATH = re.compile(r"`(?P<path>\$[^`]*)`$")

#: msgspec names a pattern a string failed by quoting the regex; these names read better
#: (a module that declares a pattern may add its own).
PATTERN_NAMES: dict[str, str] = {
    urls.ORIGIN: "an origin: `*`, `http(s)://host[:port]` or `http(s)://*.domain[:port]`",
    urls.URL: "an absolute `http(s)://` URL with a valid host",
    **{regex: said for regex, said in formats.DESCRIPTIONS.items()},
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
        try:
            return msgspec.convert(payload, cls, strict=strict, dec_hook=decode_hook)
        except msgspec.ValidationError:
            # Rare: an integer written with a fraction (2.0). Only then is the payload walked.
            whole = _whole_numbers(payload, _type_info(cls)) if strict else payload
            if whole is payload:
                raise
            return msgspec.convert(whole, cls, strict=strict, dec_hook=decode_hook)
    except msgspec.ValidationError as exc:
        text = str(exc)
        for regex, description in PATTERN_NAMES.items():
            text = text.replace(f"`str` matching regex {regex!r}", description)
        match = _PATH.search(text)
        path = match["path"] if match else None
        cause = exc.__cause__
        if isinstance(cause, Invalid):
            path = (path or "$") + cause.at
            text = f"{cause} - at `{path}`"
        code = ErrorCode.PAYLOAD_TOO_LARGE if isinstance(cause, TooLarge) else None
        details = {"path": path} if path else None
        raise ProtocolError(code or ErrorCode.VALIDATION_ERROR, text, details=details) from None


_TYPE_INFO: dict[Any, mi.Type] = {}


def _type_info(cls: Any) -> mi.Type:
    info = _TYPE_INFO.get(cls)
    if info is None:
        info = _TYPE_INFO[cls] = mi.type_info(cls)
    return info


_MAPPINGS = (mi.DataclassType, mi.StructType, mi.TypedDictType, mi.DictType)
_SEQUENCES = (mi.ListType, mi.VarTupleType, mi.TupleType)


def _whole_numbers(value: Any, info: mi.Type) -> Any:
    """``value`` with each integral float where ``info`` wants an integer made an ``int``;
    ``value`` itself (the same object) when there is none."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and _wants_int(info) else value
    if isinstance(value, dict):
        target = _member(info, _MAPPINGS)
        if isinstance(target, mi.DictType):
            changed = {k: _whole_numbers(v, target.value_type) for k, v in value.items()}
        elif target is not None:
            fields = {f.encode_name: f.type for f in target.fields}  # type: ignore[attr-defined]
            changed = {
                k: _whole_numbers(v, fields[k]) if k in fields else v for k, v in value.items()
            }
        else:
            return value
        same = all(changed[k] is v for k, v in value.items())
        return value if same else changed
    if isinstance(value, list):
        target = _member(info, _SEQUENCES)
        if target is None:
            return value
        if isinstance(target, mi.TupleType):
            types = target.item_types
            items = [_whole_numbers(v, t) for v, t in zip(value, types, strict=False)]
            items += value[len(types) :]
        else:
            items = [_whole_numbers(v, target.item_type) for v in value]  # type: ignore[attr-defined]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _member(info: mi.Type, kinds: tuple[type[mi.Type], ...]) -> mi.Type | None:
    """``info``, or the member of the union ``info``, that is one of ``kinds``."""
    for option in info.types if isinstance(info, mi.UnionType) else (info,):
        if isinstance(option, kinds):
            return option
    return None


def _wants_int(info: mi.Type) -> bool:
    options = info.types if isinstance(info, mi.UnionType) else (info,)
    kinds = {type(option) for option in options}
    return mi.IntType in kinds and mi.FloatType not in kinds
