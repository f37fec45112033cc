"""The knowledge bot's answers (``gateway.bot.knowledge``), on both stores."""

from __future__ import annotations

from gateway.bot.answers import Cited, Link, Piece, Question, Text, Unsure
from gateway.bot.knowledge import KnowledgeAnswerer, find_passages
from storage.base import Store
from tests.contracts.knowledge import article_row, help_center
from tests.contracts.rows import add_org

UNKNOWN = "I don't know that one yet. Shall I find you someone from the team?"


async def answer(answerer: KnowledgeAnswerer, org_id: str, text: str) -> list[Piece]:
    question = Question(org_id=org_id, conversation_id="c1", text=text)
    return [piece async for piece in answerer.answer(question)]


def text_of(pieces: list[Piece]) -> str:
    return "".join(p.text for p in pieces if isinstance(p, Text))


async def test_knowledge_answer_quotes_the_best_passage_and_cites_it(store: Store) -> None:
    """A question the base covers is answered with the passage's words, streamed in pieces,
    and cites its article's link."""
    org_id, _ = await help_center(store)
    answerer = KnowledgeAnswerer(store, threshold=0.5, unknown_answer=UNKNOWN)
    pieces = await answer(answerer, org_id, "How can I reset my password?")
    assert 'choose "Forgot password"' in text_of(pieces)
    assert "refund" not in text_of(pieces).lower()
    assert not any(isinstance(p, Unsure) for p in pieces)
    assert pieces[-1] == Cited((Link("https://help.example/sign-in", "Account help"),))


async def test_knowledge_answer_streams_each_paragraph(store: Store) -> None:
    """A passage of several paragraphs goes out as several Text pieces, the answer being
    them joined."""
    org = await add_org(store)
    body = "Our office opens at nine.\n\nOur office closes at five."
    await store.create_article(article_row(org.id, "Office hours", body))
    answerer = KnowledgeAnswerer(store, threshold=0.5, unknown_answer=UNKNOWN)
    pieces = await answer(answerer, org.id, "When does the office open?")
    texts = [p for p in pieces if isinstance(p, Text)]
    assert len(texts) == 2
    assert text_of(pieces) == body
    assert pieces[-1] == Cited((Link(None, "Office hours"),))


async def test_knowledge_answer_cites_each_source_once(store: Store) -> None:
    """Two passages of one page quoted together give one link."""
    org = await add_org(store)
    body = (
        "# Card payments\n\nWe take card payments.\n\n# Card refunds\n\nCard payments are refunded."
    )
    url = "https://help.example/cards"
    await store.create_article(article_row(org.id, "Cards", body, url=url))
    answerer = KnowledgeAnswerer(store, threshold=0.5, unknown_answer=UNKNOWN)
    pieces = await answer(answerer, org.id, "card payments")
    assert text_of(pieces).lower().count("card payments") == 2
    assert pieces[-1] == Cited((Link(url, "Cards"),))


async def test_knowledge_answer_says_it_does_not_know_below_the_threshold(store: Store) -> None:
    """When the best passage covers too little of the question, the bot says its
    unknown_answer and cites nothing; with a lower threshold the same passage is quoted."""
    org_id, _ = await help_center(store)
    question = "Can I pay for shipping with bitcoin or paypal?"  # covers 1 of 4 terms
    strict = KnowledgeAnswerer(store, threshold=0.5, unknown_answer=UNKNOWN)
    assert await answer(strict, org_id, question) == [Unsure(UNKNOWN)]
    (best,) = await find_passages(store, org_id, question, limit=1)
    assert best.score == 0.25
    lenient = KnowledgeAnswerer(store, threshold=0.25, unknown_answer=UNKNOWN)
    pieces = await answer(lenient, org_id, question)
    assert "Shipping to Europe" in text_of(pieces)


async def test_knowledge_answer_knows_nothing_of_an_empty_base(store: Store) -> None:
    """An org without articles, or a question of no meaningful words, gets unknown_answer."""
    org_id, _ = await help_center(store)
    empty = await add_org(store)
    answerer = KnowledgeAnswerer(store, threshold=0.1, unknown_answer=UNKNOWN)
    assert await answer(answerer, empty.id, "reset my password") == [Unsure(UNKNOWN)]
    assert await answer(answerer, org_id, "?!") == [Unsure(UNKNOWN)]


async def test_find_passages_scores_are_within_zero_and_one(store: Store) -> None:
    """find_passages gives at most limit passages, best first, scores in [0, 1]."""
    org_id, articles = await help_center(store)
    found = await find_passages(store, org_id, "refund days shipping europe", limit=2)
    assert len(found) == 2
    assert all(0.0 <= p.score <= 1.0 for p in found)
    assert found[0].score >= found[1].score
