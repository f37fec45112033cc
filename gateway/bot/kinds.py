"""Which ``Answerer`` answers for a bot, by its kind.

``knowledge`` and ``llm`` bots answer in the gateway (``gateway.bot.knowledge``,
``gateway.bot.llm``); a ``webhook`` bot answers from outside, through the API, so it has no
answerer here (None). A kind whose answerer cannot be built raises ``BotUnavailable``, a
``BotFailure``: the turn answers with the bot's fallback text, as for any failing bot.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.bot.answers import Answerer, BotFailure
from gateway.settings import Settings
from storage.base import Store
from storage.models import Bot

__all__ = ["AnswererFactory", "BotUnavailable", "default_answerers"]

#: The answerer of a bot (None: it answers from outside the gateway).
AnswererFactory = Callable[[Bot], Answerer | None]


class BotUnavailable(BotFailure):
    """This gateway cannot run a bot of that kind (or with these settings)."""


def default_answerers(store: Store, settings: Settings) -> AnswererFactory:
    """The answerers of every kind, built from a bot's row for each turn."""

    def answerer_for(bot: Bot) -> Answerer | None:
        if bot.kind == "webhook":
            return None
        raise BotUnavailable(f"no answerer for a {bot.kind} bot in this gateway yet")

    return answerer_for
