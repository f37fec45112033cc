"""How PostgreSQL columns hold values: ``timestamptz`` as ``datetime``, ``jsonb`` as Python
objects and ``uuid`` as text, through the codecs ``init_connection`` sets on every connection
of the pool. Ids are ``uuid`` except delivery and message ids (``dlv_...``, ``msg_...``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from storage.columns import Encoding

__all__ = ["POSTGRES", "init_connection"]


async def init_connection(conn: asyncpg.Connection) -> None:
    # Ids travel as text and JSON as Python objects, as in every other layer.
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
        format="text",
    )


def _same(value: Any) -> Any:
    return value


def _expires(value: datetime | None) -> str | None:
    """A secret's expiry as stored in the ``secrets`` jsonb; naive values are refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.isoformat()


#: For ``storage.columns``: the driver and the codecs take timestamps, JSON and flags as they are.
POSTGRES = Encoding(time=_same, json=_same, flag=bool, json_time=_expires)
