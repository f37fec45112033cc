"""``GET /v1/search``: the org's conversations by contact name or email and message text, on
the store's own full-text index (staff only; private notes are searched too, and marked)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson
from msgspec import UNSET

from gateway.core.auth import is_staff
from gateway.core.bus import Context
from gateway.core.results import SearchMatch, SearchPage, SearchResult
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.fulltext import words

__all__ = ["SearchHandlers"]


class SearchHandlers:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def search(self, ctx: Context, c: cmd.SearchConversations) -> SearchPage:
        principal = ctx.require()
        if not is_staff(principal):
            raise GatewayError(ErrorCode.FORBIDDEN, "search is for staff (an agent or an API key)")
        before = None if c.cursor is UNSET else _decode(c.cursor)
        hits = await self._store.search_conversations(
            principal.org_id, words(c.q), before=before, limit=c.limit + 1
        )
        page, more = hits[: c.limit], len(hits) > c.limit
        last = page[-1].conversation if page else None
        return SearchPage(
            [
                SearchResult(h.conversation, SearchMatch(h.kind, h.text, h.seq, h.private))
                for h in page
            ],
            _encode(last.updated_at, last.id) if more and last is not None else None,
        )


def _encode(at: datetime, conversation_id: str) -> str:
    raw = orjson.dumps([at.isoformat(), conversation_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, conversation_id = orjson.loads(raw)
        instant = datetime.fromisoformat(at)
        if instant.tzinfo is None:
            raise ValueError("a cursor's instant has an offset")
        return instant, str(uuid.UUID(conversation_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise GatewayError(
            ErrorCode.VALIDATION_ERROR, "invalid cursor", details={"path": "$.cursor"}
        ) from None
