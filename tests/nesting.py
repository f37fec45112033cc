"""Deeply nested documents, built as text and bytes: orjson will not encode more than 254
levels, nor msgpack more than 1024, and the tests need more."""

from __future__ import annotations

from typing import Literal

Shape = Literal["object", "array", "mixed"]

_OPEN = {"object": ('{"k":', b"\x81\xa1k"), "array": ("[", b"\x91")}
_CLOSE = {"object": "}", "array": "]"}


def levels(depth: int, shape: Shape, *, outer_object: bool = False) -> list[str]:
    """The container kind of each level, outermost first; ``mixed`` alternates, starting
    with an object. ``outer_object`` makes the outermost level an object whatever the shape
    (metadata must be one)."""
    kinds = [
        "object" if shape == "object" or (shape == "mixed" and i % 2 == 0) else "array"
        for i in range(depth)
    ]
    if outer_object and kinds:
        kinds[0] = "object"
    return kinds


def deep_json(kinds: list[str], leaf: str = "1") -> str:
    """JSON text of the given levels around ``leaf``."""
    return "".join(_OPEN[k][0] for k in kinds) + leaf + "".join(_CLOSE[k] for k in reversed(kinds))


def deep_msgpack(kinds: list[str], leaf: bytes = b"\x01") -> bytes:
    """msgpack of the given levels around ``leaf`` (a one-key map or a one-item array each)."""
    return b"".join(_OPEN[k][1] for k in kinds) + leaf
