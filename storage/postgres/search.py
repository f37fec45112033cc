"""PostgreSQL: conversation search on the GIN expression indexes of migration 0013 (the
'simple' text search configuration over message text and contact names and emails; the
expressions here must stay those of the indexes, or the planner cannot use them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage import fulltext, records
from storage.models import SearchHit
from storage.postgres.database import Database

__all__ = ["Search"]

_SEARCH = """
WITH q AS (SELECT to_tsquery('simple', $2) AS query),
hits AS (
    SELECT m.conversation_id AS cid, max(m.seq) AS seq
    FROM messages m JOIN conversations c ON c.id = m.conversation_id, q
    WHERE c.org_id = $1 AND to_tsvector('simple', m.content) @@ q.query
    GROUP BY m.conversation_id
), people AS (
    SELECT p.id AS contact_id FROM contacts p, q
    WHERE p.org_id = $1 AND to_tsvector(
        'simple', coalesce(p.name, '') || ' ' || translate(coalesce(p.email, ''), '@.', '  ')
    ) @@ q.query
)
SELECT v.*, hits.seq AS hit_seq, people.contact_id IS NOT NULL AS contact_hit,
       ct.name AS contact_name, ct.email AS contact_email,
       m.content AS hit_content, m.private AS hit_private
FROM conversations v
LEFT JOIN hits ON hits.cid = v.id
LEFT JOIN people ON people.contact_id = v.contact_id
LEFT JOIN contacts ct ON ct.id = v.contact_id
LEFT JOIN messages m ON m.conversation_id = v.id AND m.seq = hits.seq
WHERE v.org_id = $1 AND (hits.cid IS NOT NULL OR people.contact_id IS NOT NULL)
  AND ($3::timestamptz IS NULL OR (v.updated_at, v.id) < ($3::timestamptz, $4::uuid))
ORDER BY v.updated_at DESC, v.id DESC
LIMIT $5
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
        return await self._all(
            records.search_hit,
            _SEARCH,
            org_id,
            fulltext.tsquery(query_words),
            None if before is None else before[0],
            None if before is None else before[1],
            limit,
        )
