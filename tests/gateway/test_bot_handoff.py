"""The hand-off rules as pure functions: phrases a visitor uses, unsure answers in a row."""

from __future__ import annotations

import pytest

from gateway.bot.handoff import asks_for_human, unsure_in_a_row
from protocol.states import Role
from storage.models import Message, now

PHRASES = ("human", "talk to someone", "real person")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("human", True),
        ("A HUMAN please!", True),
        ("can I talk to   someone?", True),
        ("Can I talk to someone's manager", False),  # "someone's" is its own word
        ("I'd like a real-person answer", True),  # punctuation separates words
        ("that is inhumane", False),
        ("humans are nice", False),
        ("", False),
        ("talk to", False),
    ],
)
def test_asks_for_human_matches_whole_words_any_case(text: str, asks: bool) -> None:
    """A phrase matches as whole words, ignoring case, spacing and punctuation."""
    assert asks_for_human(text, PHRASES) is asks


def test_asks_for_human_with_no_usable_phrase_is_false() -> None:
    """No phrases (or only punctuation) never match."""
    assert not asks_for_human("human", ())
    assert not asks_for_human("!!", ("!!",))


def message(seq: int, role: Role, unsure: bool = False) -> Message:
    metadata = {"unsure": True} if unsure else {}
    return Message(f"m{seq}", "c", seq, role, None, "x", (), metadata, None, now())


def test_unsure_in_a_row_counts_back_to_a_sure_answer() -> None:
    """Only the bot's latest unbroken run of unsure answers counts; others' messages
    between them do not break it."""
    history = [
        message(1, Role.VISITOR),
        message(2, Role.BOT, unsure=True),
        message(3, Role.VISITOR),
        message(4, Role.BOT),
        message(5, Role.VISITOR),
        message(6, Role.BOT, unsure=True),
        message(7, Role.SYSTEM),
        message(8, Role.VISITOR),
        message(9, Role.BOT, unsure=True),
    ]
    assert unsure_in_a_row(history) == 2
    assert unsure_in_a_row(history[:4]) == 0
    assert unsure_in_a_row([]) == 0
