"""Full-text query sanitising: what a person typed into a search box, as the words a store's
own full-text search can take safely.

A query is cut into words (runs of letters and digits, in any script; everything else, the
FTS operators ``" * ^ : ( ) - + NEAR AND OR NOT & | ! <->`` included, separates words), each
matched as a prefix, all of them required. So no query can raise a syntax error in FTS5 or
``to_tsquery``, and typing ``ana@exa`` finds ``ana@example.com``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = ["MAX_WORDS", "fts5_query", "tsquery", "words"]

#: Words of a query that count (the rest are ignored), and the longest word kept.
MAX_WORDS: Final = 16
MAX_WORD_CHARS: Final = 64
_WORD: Final = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The query's words, lowercased, at most ``MAX_WORDS``; empty when it has none."""
    found = [w[:MAX_WORD_CHARS].lower() for w in _WORD.findall(text)]
    return list(dict.fromkeys(found))[:MAX_WORDS]


def fts5_query(query_words: Sequence[str]) -> str:
    """An FTS5 ``MATCH`` expression: every word as a quoted prefix phrase, all required."""
    return " ".join(f'"{w}"*' for w in query_words)


def tsquery(query_words: Sequence[str]) -> str:
    """A ``to_tsquery`` expression: every word as a prefix, all required (words hold only
    letters and digits, so nothing in them is an operator)."""
    return " & ".join(f"{w}:*" for w in query_words)
