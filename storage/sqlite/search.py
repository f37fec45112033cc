"""SQLite: conversation search on the FTS5 indexes of migration 0013 (``message_search``
over message text, ``contact_search`` over contact names and emails)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage import fulltext, records
from storage.models import SearchHit
from storage.sqlite.database import Database
from storage.sqlite.values import ts

__all__ = ["Search"]

_SEARCH = """
WITH hits AS (
    SELECT m.conversation_id AS cid, max(m.seq) AS seq
    FROM message_search s JOIN messages m ON m.rowid = s.rowid
    WHERE message_search MATCH :query
    GROUP BY m.conversation_id
), people AS (
    SELECT c.id AS contact_id
    FROM contact_search s JOIN contacts c ON c.rowid = s.rowid
    WHERE contact_search MATCH :query AND c.org_id = :org
)
SELECT v.*, hits.seq AS hit_seq, people.contact_id IS NOT NULL AS contact_hit,
       ct.name AS contact_name, ct.email AS contact_email,
       m.content AS hit_content, m.private AS hit_private
FROM conversations v
LEFT JOIN hits ON hits.cid = v.id
LEFT JOIN people ON people.contact_id = v.contact_id
LEFT JOIN contacts ct ON ct.id = v.contact_id
LEFT JOIN messages m ON m.conversation_id = v.id AND m.seq = hits.seq
WHERE v.org_id = :org AND (hits.cid IS NOT NULL OR people.contact_id IS NOT NULL)
  AND (:before_at IS NULL OR (v.updated_at, v.id) < (:before_at, :before_id))
ORDER BY v.updated_at DESC, v.id DESC
LIMIT :limit
"""


class Search(Database):
    async def search_conversations(
        self,
        org_id: str,
        query_words: Sequence[str],
        *,
        before: tuple[datetime, str] | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        if not query_words:
            return []
        params = {
            "query": fulltext.fts5_query(query_words),
            "org": org_id,
            "before_at": None if before is None else ts(before[0]),
            "before_id": None if before is None else before[1],
            "limit": limit,
        }
        return await self._all(records.search_hit, _SEARCH, params)  # type: ignore[arg-type]
