"""What a knowledge search looks for, and how sure it is of what it found, for every backend.

A question never reaches a full-text engine as written: ``query_terms`` reduces it to plain
terms (``storage.fulltext.WORD`` runs of letters and digits, lowercased, common English words
left out, each once, at most ``MAX_TERMS``), so quotes, ``*``, ``NEAR``, ``-``, ``:``, ``&``,
``|``, ``!`` or parentheses are only ever separators, never operators.
``storage.fulltext.fts5_any`` and ``tsquery_any`` write those terms as the two engines'
queries: any term may match (OR), each stemmed by the engine
(SQLite FTS5's ``porter`` tokenizer, PostgreSQL's ``english`` configuration).

The engines' own ranks (bm25, ``ts_rank``) order the candidates they return but are not
comparable with each other, nor across questions. The ``score`` of a passage is computed here
instead, from the text alone, so it is the same on every store and means the same for every
question: the share of the question's terms that the passage covers, a term being covered when
its Snowball English stem is the stem of a word of the passage's text, its heading or its
article's title. ``rank`` orders candidates by that score, the engine's order breaking ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import snowballstemmer

from storage.fulltext import WORD
from storage.models import Passage

__all__ = [
    "MAX_TERMS",
    "STOP_WORDS",
    "Candidate",
    "query_terms",
    "rank",
]

#: The most terms of a question that are searched for (the first ones).
MAX_TERMS = 32

#: Words that say nothing of what a question is about (English), one string to read easily.
_STOP_WORDS = """
    a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn did didn do does doesn doing don
    down during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just let me more most my
    myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan she should shouldn so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was wasn we were weren what when
    where which while who whom why will with won would wouldn you your yours yourself
    yourselves s t d ll m re ve y please hi hello hey thanks thank
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_STEMMER = snowballstemmer.stemmer("english")

#: A candidate passage as an engine returns it, in the engine's order: the article's id,
#: title and url, the passage's heading and text.
Candidate = tuple[str, str, str | None, str, str]


def query_terms(text: str) -> list[str]:
    """The plain terms searched for in ``text``: lowercased, stop words out, each once."""
    terms: list[str] = []
    for word in WORD.findall(text.lower()):
        if word not in STOP_WORDS and word not in terms:
            terms.append(word)
            if len(terms) == MAX_TERMS:
                break
    return terms


def rank(terms: Sequence[str], candidates: Iterable[Candidate], limit: int) -> list[Passage]:
    """The ``limit`` best candidates as passages: highest score first, ties in the engine's
    order."""
    wanted = {_stem(term) for term in terms}
    if not wanted:
        return []
    scored: list[tuple[float, int, Passage]] = []
    for order, (article_id, title, url, heading, text) in enumerate(candidates):
        found = _stems(f"{title}\n{heading}\n{text}")
        score = round(len(wanted & found) / len(wanted), 4)
        scored.append((-score, order, Passage(article_id, title, url, text, score)))
    scored.sort(key=lambda entry: entry[:2])
    return [passage for _, _, passage in scored[:limit]]


def _stems(text: str) -> set[str]:
    return {_stem(word) for word in WORD.findall(text.lower())}


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))
