"""When a bot hands a conversation to a human: the visitor asked for one, or the bot has
been unsure too often in a row.

Pure functions of texts and stored messages; the turn runner acts on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from protocol.states import Role
from storage.models import Message

__all__ = ["UNSURE", "asks_for_human", "unsure_in_a_row"]

#: The metadata flag of a bot answer that said it did not know.
UNSURE = "unsure"


def asks_for_human(text: str, phrases: Iterable[str]) -> bool:
    """Whether ``text`` contains one of ``phrases`` as whole words, ignoring case and how
    the words are spaced: "human" matches "A HUMAN please" but not "humane"."""
    words = _words(text)
    if not words:
        return False
    padded = f" {words} "
    return any(f" {phrase} " in padded for phrase in map(_words, phrases) if phrase)


def unsure_in_a_row(messages: Iterable[Message]) -> int:
    """How many of the bot's latest answers in ``messages`` (oldest first) were unsure in a
    row: counting back from the newest bot answer to the first one that was sure."""
    count = 0
    for message in reversed(list(messages)):
        if message.role is not Role.BOT:
            continue
        if not message.metadata.get(UNSURE):
            break
        count += 1
    return count


_WORD = re.compile(r"\w+(?:'\w+)?")


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))
