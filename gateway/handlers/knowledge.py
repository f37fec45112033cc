"""The knowledge base: articles written through the API, pages imported from a URL, and the
search a bot answers from (offered to staff to test it). API key only, like administration.
"""

from __future__ import annotations

import uuid
from typing import Any

from msgspec import UNSET

from gateway.core.access import admin_org
from gateway.core.bus import Context
from gateway.core.results import ArticlePage, Deleted, KnowledgeMatches
from gateway.handlers.cursors import decode_cursor, encode_cursor
from gateway.media.pages import PageReader
from protocol import commands as cmd
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import Article, now

__all__ = ["KnowledgeHandlers"]


class KnowledgeHandlers:
    def __init__(self, store: Store, pages: PageReader) -> None:
        self._store = store
        self._pages = pages

    async def create(self, ctx: Context, c: cmd.CreateArticle) -> Article:
        org_id = admin_org(ctx)
        at = now()
        article = Article(str(uuid.uuid4()), org_id, c.title, c.body, c.url, "api", at, at)
        await self._store.create_article(article)
        return article

    async def list_page(self, ctx: Context, c: cmd.ListArticles) -> ArticlePage:
        org_id = admin_org(ctx)
        before = None if c.cursor is UNSET else decode_cursor(c.cursor)
        rows = await self._store.list_articles(org_id, before=before, limit=c.limit + 1)
        page, more = rows[: c.limit], len(rows) > c.limit
        cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
        return ArticlePage(page, cursor)

    async def get(self, ctx: Context, c: cmd.GetArticle) -> Article:
        article = await self._store.get_article(admin_org(ctx), str(c.article_id))
        if article is None:
            raise GatewayError.not_found("article")
        return article

    async def update(self, ctx: Context, c: cmd.UpdateArticle) -> Article:
        org_id = admin_org(ctx)
        updates: dict[str, Any] = {
            name: value
            for name, value in (("title", c.title), ("body", c.body), ("url", c.url))
            if value is not UNSET
        }
        article = await self._store.update_article(org_id, str(c.article_id), updates, now())
        if article is None:
            raise GatewayError.not_found("article")
        return article

    async def delete(self, ctx: Context, c: cmd.DeleteArticle) -> Deleted:
        if not await self._store.delete_article(admin_org(ctx), str(c.article_id)):
            raise GatewayError.not_found("article")
        return Deleted(str(c.article_id))

    async def import_page(self, ctx: Context, c: cmd.ImportArticle) -> Article:
        org_id = admin_org(ctx)
        page = await self._pages.read(c.url)
        at = now()
        article = Article(str(uuid.uuid4()), org_id, page.title, page.text, c.url, "import", at, at)
        return await self._store.save_imported_article(article)

    async def search(self, ctx: Context, c: cmd.SearchKnowledge) -> KnowledgeMatches:
        return KnowledgeMatches(await self._store.search_knowledge(admin_org(ctx), c.q, c.limit))
