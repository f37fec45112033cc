"""SQLite: the knowledge base, its articles and their passages, indexed with FTS5."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from storage import fulltext, records, relevance
from storage.chunking import index_rows
from storage.models import Article, Passage
from storage.sqlite.database import Database
from storage.sqlite.values import ts

__all__ = ["Knowledge"]

#: How many candidates the index returns per passage asked for (``relevance.rank`` picks).
_CANDIDATES_PER_PASSAGE = 5
_MIN_CANDIDATES = 20
#: bm25 weights of the indexed columns: the title (and heading), the text.
_BM25 = "bm25(knowledge_fts, 2.0, 1.0)"


class Knowledge(Database):
    async def create_article(self, article: Article) -> None:
        def txn(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO knowledge_articles (id, org_id, title, body, url, source,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _columns(article),
            )
            _index(c, article)

        await self._write(txn)

    async def save_imported_article(self, article: Article) -> Article:
        def txn(c: sqlite3.Connection) -> Article:
            row = c.execute(
                "SELECT * FROM knowledge_articles"
                " WHERE org_id = ? AND url = ? AND source = 'import'",
                (article.org_id, article.url),
            ).fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO knowledge_articles (id, org_id, title, body, url, source,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    _columns(article),
                )
                stored = article
            else:
                stored = _replaced(records.article(row), article.title, article.body, article)
                _rewrite(c, stored)
            _index(c, stored)
            return stored

        return await self._write(txn)

    async def get_article(self, org_id: str, article_id: str) -> Article | None:
        return await self._one(
            records.article,
            "SELECT * FROM knowledge_articles WHERE id = ? AND org_id = ?",
            (article_id, org_id),
        )

    async def list_articles(
        self, org_id: str, *, before: tuple[datetime, str] | None = None, limit: int = 50
    ) -> list[Article]:
        if before is None:
            return await self._all(
                records.article,
                "SELECT * FROM knowledge_articles WHERE org_id = ?"
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (org_id, limit),
            )
        return await self._all(
            records.article,
            "SELECT * FROM knowledge_articles WHERE org_id = ? AND (created_at, id) < (?, ?)"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (org_id, ts(before[0]), before[1], limit),
        )

    async def update_article(
        self, org_id: str, article_id: str, updates: Mapping[str, Any], at: datetime
    ) -> Article | None:
        def txn(c: sqlite3.Connection) -> Article | None:
            row = c.execute(
                "SELECT * FROM knowledge_articles WHERE id = ? AND org_id = ?",
                (article_id, org_id),
            ).fetchone()
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
            _rewrite(c, stored)
            _index(c, stored)
            return stored

        return await self._write(txn)

    async def delete_article(self, org_id: str, article_id: str) -> bool:
        def txn(c: sqlite3.Connection) -> bool:
            owned = c.execute(
                "SELECT 1 FROM knowledge_articles WHERE id = ? AND org_id = ?",
                (article_id, org_id),
            ).fetchone()
            if owned is None:
                return False
            c.execute("DELETE FROM knowledge_chunks WHERE article_id = ?", (article_id,))
            c.execute("DELETE FROM knowledge_articles WHERE id = ?", (article_id,))
            return True

        return await self._write(txn)

    async def search_knowledge(self, org_id: str, text: str, limit: int) -> list[Passage]:
        terms = relevance.query_terms(text)
        if not terms or limit < 1:
            return []
        rows = await self._read(
            lambda c: c.execute(
                "SELECT c.article_id, a.title, a.url, c.heading, c.content"
                " FROM knowledge_fts"
                " JOIN knowledge_chunks c ON c.id = knowledge_fts.rowid"
                " JOIN knowledge_articles a ON a.id = c.article_id"
                f" WHERE knowledge_fts MATCH ? AND c.org_id = ? ORDER BY {_BM25}, c.id LIMIT ?",
                (
                    fulltext.fts5_any(terms),
                    org_id,
                    max(_MIN_CANDIDATES, limit * _CANDIDATES_PER_PASSAGE),
                ),
            ).fetchall()
        )
        return relevance.rank(terms, (tuple(row) for row in rows), limit)


def _columns(a: Article) -> tuple[Any, ...]:
    return (a.id, a.org_id, a.title, a.body, a.url, a.source, ts(a.created_at), ts(a.updated_at))


def _replaced(current: Article, title: str, body: str, new: Article) -> Article:
    return Article(
        id=current.id,
        org_id=current.org_id,
        title=title,
        body=body,
        url=current.url,
        source=current.source,
        created_at=current.created_at,
        updated_at=new.updated_at,
    )


def _rewrite(c: sqlite3.Connection, a: Article) -> None:
    """Write the article's changed fields and drop its passages (``_index`` writes them)."""
    c.execute(
        "UPDATE knowledge_articles SET title = ?, body = ?, url = ?, updated_at = ? WHERE id = ?",
        (a.title, a.body, a.url, ts(a.updated_at), a.id),
    )
    c.execute("DELETE FROM knowledge_chunks WHERE article_id = ?", (a.id,))


def _index(c: sqlite3.Connection, a: Article) -> None:
    c.executemany(
        "INSERT INTO knowledge_chunks (article_id, org_id, position, heading, title, content)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(a.id, a.org_id, *row) for row in index_rows(a.title, a.body)],
    )
