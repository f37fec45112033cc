"""PostgreSQL: the knowledge base, its articles and their passages, indexed with a
generated ``tsvector`` (GIN) and ranked by ``ts_rank``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from storage import fulltext, records, relevance
from storage.chunking import index_rows
from storage.models import Article, Passage
from storage.postgres.database import Database, rowcount

__all__ = ["Knowledge"]

#: How many candidates the index returns per passage asked for (``relevance.rank`` picks).
_CANDIDATES_PER_PASSAGE = 5
_MIN_CANDIDATES = 20

_INSERT = (
    "INSERT INTO knowledge_articles (id, org_id, title, body, url, source, created_at,"
    " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)


class Knowledge(Database):
    async def create_article(self, article: Article) -> None:
        async with self._transaction() as conn:
            await conn.execute(_INSERT, *_columns(article))
            await _index(conn, article)

    async def save_imported_article(self, article: Article) -> Article:
        # The upsert locks the org's article of that url, so two imports of one page
        # replace its passages one after the other.
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                f"{_INSERT} ON CONFLICT (org_id, url) WHERE source = 'import'"
                " DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body,"
                " updated_at = EXCLUDED.updated_at RETURNING *",
                *_columns(article),
            )
            stored = records.article(row)
            await conn.execute("DELETE FROM knowledge_chunks WHERE article_id = $1", stored.id)
            await _index(conn, stored)
        return stored

    async def get_article(self, org_id: str, article_id: str) -> Article | None:
        return await self._one(
            records.article,
            "SELECT * FROM knowledge_articles WHERE id = $1 AND org_id = $2",
            article_id,
            org_id,
        )

    async def list_articles(
        self, org_id: str, *, before: tuple[datetime, str] | None = None, limit: int = 50
    ) -> list[Article]:
        if before is None:
            return await self._all(
                records.article,
                "SELECT * FROM knowledge_articles WHERE org_id = $1"
                " ORDER BY created_at DESC, id DESC LIMIT $2",
                org_id,
                limit,
            )
        return await self._all(
            records.article,
            "SELECT * FROM knowledge_articles WHERE org_id = $1 AND (created_at, id) < ($2, $3)"
            " ORDER BY created_at DESC, id DESC LIMIT $4",
            org_id,
            before[0],
            before[1],
            limit,
        )

    async def update_article(
        self, org_id: str, article_id: str, updates: Mapping[str, Any], at: datetime
    ) -> Article | None:
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM knowledge_articles WHERE id = $1 AND org_id = $2 FOR UPDATE",
                article_id,
                org_id,
            )
            if row is None:
                return None
            current = records.article(row)
            stored = replace(
                current,
                title=updates.get("title", current.title),
                body=updates.get("body", current.body),
                url=updates.get("url", current.url),
                updated_at=at,
            )
            await conn.execute(
                "UPDATE knowledge_articles SET title = $2, body = $3, url = $4, updated_at = $5"
                " WHERE id = $1",
                stored.id,
                stored.title,
                stored.body,
                stored.url,
                stored.updated_at,
            )
            await conn.execute("DELETE FROM knowledge_chunks WHERE article_id = $1", stored.id)
            await _index(conn, stored)
        return stored

    async def delete_article(self, org_id: str, article_id: str) -> bool:
        # The passages go with the article (ON DELETE CASCADE).
        status = await self._execute(
            "DELETE FROM knowledge_articles WHERE id = $1 AND org_id = $2", article_id, org_id
        )
        return rowcount(status) > 0

    async def search_knowledge(self, org_id: str, text: str, limit: int) -> list[Passage]:
        terms = relevance.query_terms(text)
        if not terms or limit < 1:
            return []
        rows = await self._all(
            tuple,
            "SELECT c.article_id, a.title, a.url, c.heading, c.content"
            " FROM knowledge_chunks c JOIN knowledge_articles a ON a.id = c.article_id,"
            " to_tsquery('english', $2) AS q"
            " WHERE c.org_id = $1 AND c.search @@ q"
            " ORDER BY ts_rank(c.search, q) DESC, c.id LIMIT $3",
            org_id,
            fulltext.tsquery_any(terms),
            max(_MIN_CANDIDATES, limit * _CANDIDATES_PER_PASSAGE),
        )
        return relevance.rank(terms, rows, limit)


def _columns(a: Article) -> tuple[Any, ...]:
    return (a.id, a.org_id, a.title, a.body, a.url, a.source, a.created_at, a.updated_at)


async def _index(conn: asyncpg.Connection, a: Article) -> None:
    await conn.executemany(
        "INSERT INTO knowledge_chunks (article_id, org_id, position, heading, title, content)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(a.id, a.org_id, *row) for row in index_rows(a.title, a.body)],
    )
