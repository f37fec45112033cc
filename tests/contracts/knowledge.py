"""The ``Store`` contract, knowledge base: articles and the full-text search of their passages.

Mixed into ``StoreContract``; the backend's test class provides the ``store`` fixture. Every
score asserted here is an exact value: the same data gives the same scores on every store.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from storage.base import Store
from storage.models import Article, now
from tests.contracts.rows import add_org

__all__ = ["KnowledgeContract", "article_row"]

REFUNDS = """# Refunds

You can ask for a refund within 30 days of your purchase. Refunds are paid back to the card
you paid with, within five working days.

## Exceptions

Gift cards and downloaded software cannot be refunded.
"""

SHIPPING = """Orders leave our warehouse the next working day. Shipping to Europe takes three
days; shipping overseas takes up to two weeks.
"""

PASSWORD = """# Signing in

To reset your password, open the sign-in page and choose "Forgot password". We send a link
that works for one hour.
"""


def article_row(org_id: str, title: str, body: str, **fields: Any) -> Article:
    at = fields.pop("at", now())
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "title": title,
        "body": body,
        "url": None,
        "source": "api",
        "created_at": at,
        "updated_at": at,
    }
    return Article(**(base | fields))


async def help_center(store: Store) -> tuple[str, dict[str, Article]]:
    """An org with three articles."""
    org = await add_org(store)
    articles = {
        "refunds": article_row(
            org.id, "Refund policy", REFUNDS, url="https://help.example/refunds"
        ),
        "shipping": article_row(org.id, "Shipping times", SHIPPING),
        "password": article_row(
            org.id, "Account help", PASSWORD, url="https://help.example/sign-in"
        ),
    }
    for article in articles.values():
        await store.create_article(article)
    return org.id, articles


class KnowledgeContract:
    """Articles (create, get, list, update, delete, import) and ``search_knowledge``."""

    # -- articles -------------------------------------------------------------------------

    async def test_article_is_stored_and_read_back_in_its_org_only(self, store: Store) -> None:
        """A created article reads back as written, and not from another org."""
        org_id, articles = await help_center(store)
        other = await add_org(store)
        refunds = articles["refunds"]
        assert await store.get_article(org_id, refunds.id) == refunds
        assert await store.get_article(other.id, refunds.id) is None
        assert await store.get_article(org_id, str(uuid.uuid4())) is None

    async def test_articles_are_listed_newest_first_in_pages(self, store: Store) -> None:
        """Listing pages through the org's articles newest first, by (created_at, id)."""
        org = await add_org(store)
        start = now()
        rows = [
            article_row(org.id, f"Article {n}", f"Body {n}", at=start + timedelta(seconds=n))
            for n in range(5)
        ]
        for row in rows:
            await store.create_article(row)
        await store.create_article(article_row((await add_org(store)).id, "Elsewhere", "x"))
        first = await store.list_articles(org.id, limit=3)
        assert [a.title for a in first] == ["Article 4", "Article 3", "Article 2"]
        last = first[-1]
        rest = await store.list_articles(org.id, before=(last.created_at, last.id), limit=3)
        assert [a.title for a in rest] == ["Article 1", "Article 0"]

    async def test_update_article_changes_fields_and_keeps_the_rest(self, store: Store) -> None:
        """An update changes what it names, stamps updated_at, keeps id, source, created_at."""
        org_id, articles = await help_center(store)
        shipping = articles["shipping"]
        at = now() + timedelta(minutes=1)
        updated = await store.update_article(
            org_id, shipping.id, {"title": "Delivery times", "url": "https://help.example/s"}, at
        )
        assert updated is not None
        assert (updated.title, updated.url, updated.body) == (
            "Delivery times",
            "https://help.example/s",
            SHIPPING,
        )
        assert (updated.created_at, updated.updated_at) == (shipping.created_at, at)
        assert await store.get_article(org_id, shipping.id) == updated
        other = await add_org(store)
        assert await store.update_article(other.id, shipping.id, {"title": "x"}, at) is None

    async def test_delete_article_removes_it_from_its_org_only(self, store: Store) -> None:
        """Deleting is scoped by org, and a second delete finds nothing."""
        org_id, articles = await help_center(store)
        other = await add_org(store)
        refunds = articles["refunds"]
        assert not await store.delete_article(other.id, refunds.id)
        assert await store.delete_article(org_id, refunds.id)
        assert await store.get_article(org_id, refunds.id) is None
        assert not await store.delete_article(org_id, refunds.id)

    async def test_import_of_a_known_url_replaces_that_article(self, store: Store) -> None:
        """Importing a url the org imported before replaces that article's title and body
        (same id and created_at); another org's import of it is its own article."""
        org = await add_org(store)
        url = "https://help.example/returns"
        first = article_row(org.id, "Returns", "Send it back in 14 days.", url=url, source="import")
        assert await store.save_imported_article(first) == first
        later = now() + timedelta(minutes=1)
        again = article_row(
            org.id,
            "Returns policy",
            "Send it back within 30 days.",
            url=url,
            source="import",
            at=later,
        )
        stored = await store.save_imported_article(again)
        assert (stored.id, stored.created_at, stored.updated_at) == (
            first.id,
            first.created_at,
            later,
        )
        assert (stored.title, stored.body, stored.url) == ("Returns policy", again.body, url)
        assert await store.list_articles(org.id) == [stored]
        assert [p.text for p in await store.search_knowledge(org.id, "days", 3)] == [again.body]
        other = await add_org(store)
        theirs = article_row(other.id, "Returns", "Theirs.", url=url, source="import")
        assert await store.save_imported_article(theirs) == theirs

    async def test_import_does_not_replace_an_api_article_with_the_same_url(
        self, store: Store
    ) -> None:
        """An article written through the API keeps its url and body when that url is
        imported: the import is an article of its own."""
        org = await add_org(store)
        url = "https://help.example/faq"
        given = article_row(org.id, "FAQ", "Written by hand.", url=url)
        await store.create_article(given)
        imported = article_row(org.id, "FAQ", "From the page.", url=url, source="import")
        assert await store.save_imported_article(imported) == imported
        assert await store.get_article(org.id, given.id) == given

    # -- search ---------------------------------------------------------------------------

    async def test_search_finds_passages_by_their_words(self, store: Store) -> None:
        """A question finds the passage holding its words, with its article's title and url;
        the score is the share of the question's terms the passage covers."""
        org_id, articles = await help_center(store)
        found = await store.search_knowledge(org_id, "How do I reset my password?", 3)
        assert found[0].article_id == articles["password"].id
        assert (found[0].title, found[0].url) == ("Account help", "https://help.example/sign-in")
        assert "Forgot password" in found[0].text
        assert found[0].score == 1.0

    async def test_search_matches_stems_and_any_case(self, store: Store) -> None:
        """Other forms of a word and other cases match: 'REFUNDED' finds 'refund'."""
        org_id, articles = await help_center(store)
        found = await store.search_knowledge(org_id, "REFUNDED purchases", 3)
        assert found and found[0].article_id == articles["refunds"].id
        assert found[0].score == 1.0

    async def test_search_ranks_the_most_relevant_passage_first(self, store: Store) -> None:
        """The passage covering more of the question comes first, and scores higher."""
        org_id, articles = await help_center(store)
        found = await store.search_knowledge(org_id, "shipping to Europe days", 3)
        assert found[0].article_id == articles["shipping"].id
        assert found[0].score == 1.0
        assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
        assert found[1].score == pytest.approx(1 / 3, abs=1e-4)  # refunds: "days" only

    async def test_search_cuts_articles_into_passages_by_heading(self, store: Store) -> None:
        """A section under its own heading is a passage of its own; the heading counts as
        the passage's words."""
        org_id, articles = await help_center(store)
        found = await store.search_knowledge(org_id, "refund exceptions gift cards", 3)
        assert found[0].text == "Gift cards and downloaded software cannot be refunded."
        assert found[0].score == 1.0

    async def test_search_sees_one_org_only(self, store: Store) -> None:
        """Another org's articles are never found."""
        _, _ = await help_center(store)
        other = await add_org(store)
        assert await store.search_knowledge(other.id, "reset my password", 3) == []

    async def test_search_reflects_updates_and_deletes(self, store: Store) -> None:
        """After an update the new text is found and the old is not; after a delete,
        nothing of the article is."""
        org_id, articles = await help_center(store)
        shipping = articles["shipping"]
        await store.update_article(
            org_id, shipping.id, {"body": "Parcels travel by courier."}, now()
        )
        assert await store.search_knowledge(org_id, "warehouse overseas", 3) == []
        found = await store.search_knowledge(org_id, "courier parcels", 3)
        assert [p.article_id for p in found] == [shipping.id]
        await store.delete_article(org_id, shipping.id)
        assert await store.search_knowledge(org_id, "courier parcels", 3) == []

    async def test_search_returns_at_most_limit_passages(self, store: Store) -> None:
        """limit bounds the answer."""
        org = await add_org(store)
        for n in range(6):
            await store.create_article(article_row(org.id, f"Plan {n}", f"The plan number {n}."))
        assert len(await store.search_knowledge(org.id, "plan", 4)) == 4

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "?!",
            'password"',
            '"reset password',
            "pass*",
            "*",
            "reset NEAR password",
            "NEAR(reset password, 2)",
            "-password",
            "title:password",
            "reset & password | !card",
            "(reset OR",
            "reset AND NOT password)",
            "password^2 {title} [x] \\ ' ; -- <->",
            "the and of",
        ],
    )
    async def test_search_never_raises_for_query_syntax(self, store: Store, text: str) -> None:
        """Quotes, operators, column filters and parentheses are plain separators: the
        search answers (words in the text still match), never raises."""
        org_id, _ = await help_center(store)
        found = await store.search_knowledge(org_id, text, 3)
        assert all(0.0 <= p.score <= 1.0 for p in found)
        if "password" in text:
            assert found and found[0].title == "Account help"

    async def test_search_of_no_meaningful_words_finds_nothing(self, store: Store) -> None:
        """A blank question, or one of stop words only, finds nothing."""
        org_id, _ = await help_center(store)
        for text in ("", "   ", "what is the", "hi!"):
            assert await store.search_knowledge(org_id, text, 3) == []
