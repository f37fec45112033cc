"""How SQLite columns hold values: timestamps as sortable RFC 3339 text, JSON as text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from storage.columns import Encoding

__all__ = ["SQLITE", "json_text", "ts", "ts_or_none"]


def ts(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, which sorts as text; naive values are refused."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


#: For ``storage.columns``: flags are stored as 0 and 1.
SQLITE = Encoding(time=ts, json=json_text, flag=int, json_time=ts_or_none)
