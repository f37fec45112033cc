"""Page cursors: an opaque token for "after this row" in a list ordered by an instant and an id.

Conversations (by creation), knowledge articles (by creation) and search results (by last
activity) page the same way: the cursor is the base64url JSON of the last row's instant and
id. A cursor the gateway did not issue answers ``validation_error`` at ``$.cursor``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson

from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = orjson.dumps([at.isoformat(), row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The instant and id of an ``encode_cursor`` token."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = orjson.loads(raw)
        instant = datetime.fromisoformat(at)
        if instant.tzinfo is None:
            raise ValueError("a cursor's instant has an offset")
        return instant, str(uuid.UUID(row_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise GatewayError(
            ErrorCode.VALIDATION_ERROR, "invalid cursor", details={"path": "$.cursor"}
        ) from None
