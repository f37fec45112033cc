"""The ``knowledge`` bot: answers from the org's knowledge base, and knows when it does not know.

``find_passages`` is the knowledge search every bot uses (the ``llm`` bot grounds its prompt
with it): the store's full-text search of the org's article passages, each with a ``score``
in [0, 1] that means the same on every store (``storage.relevance``: the share of the
question's meaningful terms the passage covers).

``KnowledgeAnswerer`` quotes the best passages when the best one scores at least the bot's
``threshold``: the best passage, and the next ones that also reach the threshold and score at
least ``RELATIVE`` of the best (a weaker passage is noise beside a strong one), each streamed
as its own ``Text`` pieces (one per paragraph), then ``Cited`` with their articles' links
(each once). Below the threshold it answers ``Unsure`` with the bot's
``unknown_answer``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.bot.answers import Cited, Link, Piece, Question, Text, Unsure
from storage.base import Store
from storage.models import Passage

__all__ = ["RELATIVE", "KnowledgeAnswerer", "Passage", "find_passages", "links_of"]

#: The share of the best passage's score another passage needs to be quoted beside it.
RELATIVE = 0.75


async def find_passages(store: Store, org_id: str, text: str, *, limit: int = 3) -> list[Passage]:
    """The org's passages that best answer ``text``, best first, at most ``limit``.

    Any text may be asked (operators and punctuation are plain separators); a text without
    meaningful words finds nothing.
    """
    return await store.search_knowledge(org_id, text, limit)


class KnowledgeAnswerer:
    """An ``Answerer`` quoting the org's knowledge base (see the module's docstring)."""

    def __init__(
        self, store: Store, *, threshold: float, unknown_answer: str, limit: int = 3
    ) -> None:
        self._store = store
        self._threshold = threshold
        self._unknown_answer = unknown_answer
        self._limit = limit

    async def answer(self, question: Question) -> AsyncIterator[Piece]:
        passages = await find_passages(
            self._store, question.org_id, question.text, limit=self._limit
        )
        quoted = self._quoted(passages)
        if not quoted:
            yield Unsure(self._unknown_answer)
            return
        first = True
        for passage in quoted:
            for paragraph in passage.text.split("\n\n"):
                yield Text(paragraph if first else f"\n\n{paragraph}")
                first = False
        yield Cited(links_of(quoted))

    def _quoted(self, passages: list[Passage]) -> list[Passage]:
        if not passages or passages[0].score < self._threshold:
            return []
        bar = max(self._threshold, passages[0].score * RELATIVE)
        return [passages[0], *(p for p in passages[1:] if p.score >= bar)]


def links_of(passages: list[Passage]) -> tuple[Link, ...]:
    """The passages' sources in order, each once (one per url; per article without one)."""
    seen: set[str] = set()
    links: list[Link] = []
    for passage in passages:
        key = passage.url or passage.article_id
        if key not in seen:
            seen.add(key)
            links.append(Link(passage.url, passage.title))
    return tuple(links)
