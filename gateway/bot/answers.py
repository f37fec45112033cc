"""What a bot's answer is made of, whichever kind of bot gives it.

An ``Answerer`` turns a ``Question`` into a stream of ``Piece`` s. The turn runner (the one
place that talks to the bus) streams the ``Text`` pieces to subscribers as ``message.delta``
events, stores the whole answer once with the conversation's ``epoch``, and acts on the others:

- ``Text``: the next chunk of the answer; the answer is the chunks joined in order.
- ``Cited``: the sources the answer quotes (may come at any point; the last one wins).
- ``Unsure``: the answerer does not know. Its ``text`` is the whole answer (it replaces any
  ``Text`` so far); ``Unsure`` answers in a row count towards the bot's hand-off rule.
- ``HandOff``: the answerer asks for a human (an ``llm`` bot's ``handoff`` tool); the
  conversation goes to ``agent_requested``. A ``Text`` before it is still the answer.

Answerers raise ``BotFailure`` for an outside failure (timeout, 5xx, malformed stream); the
runner then answers with the bot's fallback text and hands off, as the bot is configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Answerer",
    "BotFailure",
    "Cited",
    "HandOff",
    "Link",
    "Piece",
    "Question",
    "Text",
    "Turn",
    "Unsure",
]


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation, as an answerer sees it."""

    role: str  # "visitor", "bot", "agent", "live_agent" or "system"
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    """What the visitor asked, with the conversation so far (oldest first, the question
    itself excluded)."""

    org_id: str
    conversation_id: str
    text: str
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True, slots=True)
class Link:
    """A source an answer cites: a page's URL (or ``None`` for an article without one)."""

    url: str | None
    title: str


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Cited:
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class Unsure:
    text: str


@dataclass(frozen=True, slots=True)
class HandOff:
    reason: str


Piece = Text | Cited | Unsure | HandOff


class BotFailure(Exception):
    """The bot's outside service failed (timeout, error status, malformed answer)."""


class Answerer(Protocol):
    def answer(self, question: Question) -> AsyncIterator[Piece]:
        """Stream the answer to ``question``."""
        ...
