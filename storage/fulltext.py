"""Full-text query sanitising: what a person typed into a search box, as the words a store's
own full-text search can take safely.

A query is cut into words (runs of letters and digits, in any script; everything else, the
FTS operators ``" * ^ : ( ) - + NEAR AND OR NOT & | ! <->`` included, separates words), so no
query can raise a syntax error in FTS5 or ``to_tsquery``. Conversation search requires every
word as a prefix (``fts5_query``, ``tsquery``: typing ``ana@exa`` finds ``ana@example.com``);
the knowledge search takes any of its terms (``fts5_any``, ``tsquery_any``) and ranks them
itself (``storage.relevance``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = ["MAX_WORDS", "WORD", "fts5_any", "fts5_query", "tsquery", "tsquery_any", "words"]

#: Words of a query that count (the rest are ignored), and the longest word kept.
MAX_WORDS: Final = 16
MAX_WORD_CHARS: Final = 64
#: A word: a run of letters and digits, in any script.
WORD: Final = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The query's words, lowercased, at most ``MAX_WORDS``; empty when it has none."""
    found = [w[:MAX_WORD_CHARS].lower() for w in WORD.findall(text)]
    return list(dict.fromkeys(found))[:MAX_WORDS]


def fts5_query(query_words: Sequence[str]) -> str:
    """An FTS5 ``MATCH`` expression: every word as a quoted prefix phrase, all required."""
    return " ".join(f'"{w}"*' for w in query_words)


def tsquery(query_words: Sequence[str]) -> str:
    """A ``to_tsquery`` expression: every word as a prefix, all required (words hold only
    letters and digits, so nothing in them is an operator)."""
    return " & ".join(f"{w}:*" for w in query_words)


def fts5_any(terms: Sequence[str]) -> str:
    """An FTS5 ``MATCH`` expression for any of ``terms`` (each a quoted string, so never an
    operator or a column filter)."""
    return " OR ".join(f'"{term}"' for term in terms)


def tsquery_any(terms: Sequence[str]) -> str:
    """A ``to_tsquery`` expression for any of ``terms`` (letters and digits only)."""
    return " | ".join(terms)
