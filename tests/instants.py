"""Checks that a decoded JSON (or msgpack) document writes every instant in the wire form."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["WIRE_INSTANT", "assert_wire_instants"]

#: The one wire form: RFC 3339, UTC, exactly three fractional digits, ``Z``.
WIRE_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
#: A string that reads as a date and time, in whatever form (so a stray form is caught).
_LOOKS_LIKE_INSTANT = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")
_INSTANT_KEY = re.compile(r"(_at|At|timestamp|Timestamp)$")
#: The caller's own data, returned as it was given (Bland's ``metadata.sent_at``).
_CALLERS = frozenset({"metadata"})


def assert_wire_instants(document: Any) -> dict[str, str]:
    """Assert that every instant in ``document`` has the wire form; returns them by path.

    An instant is a non-null value under a key ending in ``_at``, ``At`` or ``timestamp``
    (or in the list under it, as a change's ``[from, to]``),
    any string that reads as a date and time, and any value that is not JSON (a msgpack
    timestamp, say). ``metadata`` objects are the caller's and are not looked into.
    """
    found: dict[str, Any] = {}
    _collect(document, "$", found)
    wrong = {
        path: value
        for path, value in found.items()
        if not (isinstance(value, str) and WIRE_INSTANT.match(value))
    }
    assert not wrong, f"instants not in the wire form: {wrong}"
    return found


def _collect(value: Any, path: str, found: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _CALLERS:
                continue
            where = f"{path}.{key}"
            if not _INSTANT_KEY.search(key):
                _collect(item, where, found)
            elif isinstance(item, list):  # a change's [from, to]
                found.update({f"{where}[{i}]": v for i, v in enumerate(item) if v is not None})
            elif item is not None:
                found[where] = item
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect(item, f"{path}[{i}]", found)
    elif isinstance(value, str):
        if _LOOKS_LIKE_INSTANT.match(value):
            found[path] = value
    elif value is not None and not isinstance(value, (int, float, bool)):
        found[path] = value
