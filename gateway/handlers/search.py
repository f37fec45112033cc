"""``GET /v1/search``: the org's conversations by contact name or email and message text, on
the store's own full-text index (staff only; private notes are searched too, and marked)."""

from __future__ import annotations

from msgspec import UNSET

from gateway.core.auth import is_staff
from gateway.core.bus import Context
from gateway.core.results import SearchMatch, SearchPage, SearchResult
from gateway.handlers.cursors import decode_cursor, encode_cursor
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
        before = None if c.cursor is UNSET else decode_cursor(c.cursor)
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
            encode_cursor(last.updated_at, last.id) if more and last is not None else None,
        )
