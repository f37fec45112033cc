"""Which ``Answerer`` answers for a bot, by its kind.

``knowledge`` and ``llm`` bots answer in the gateway (``gateway.bot.knowledge``,
``gateway.bot.llm``), built afresh from the bot's row for each turn, so a changed bot answers
its next question with its new settings. A ``webhook`` bot answers from outside, through the
API, so it has no answerer here (None). A bot whose answerer cannot be built raises
``BotUnavailable``, a ``BotFailure``: the turn answers with the bot's fallback text, as for
any failing bot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.bot.answers import Answerer, BotFailure
from gateway.bot.knowledge import KnowledgeAnswerer, find_passages
from gateway.bot.llm import LlmAnswerer
from gateway.media.fetch import Fetcher
from gateway.settings import Settings
from storage.base import Store
from storage.models import Bot, Passage

__all__ = ["AnswererFactory", "BotUnavailable", "default_answerers"]

#: The answerer of a bot (None: it answers from outside the gateway).
AnswererFactory = Callable[[Bot], Answerer | None]


class BotUnavailable(BotFailure):
    """This gateway cannot run a bot of that kind (or with these settings)."""


def default_answerers(store: Store, settings: Settings, llm_http: Fetcher) -> AnswererFactory:
    """The answerers of every kind. ``llm_http`` sends ``llm`` bots' requests (its policy is
    ``gateway.bot.llm.llm_fetch_policy``)."""

    def answerer_for(bot: Bot) -> Answerer | None:
        if bot.kind == "knowledge":
            return KnowledgeAnswerer(
                store, threshold=bot.confidence_threshold, unknown_answer=bot.unknown_answer
            )
        if bot.kind == "llm":
            return _llm(bot)
        if bot.kind == "webhook":
            return None
        raise BotUnavailable(f"no answerer for a {bot.kind} bot in this gateway")

    def _llm(bot: Bot) -> Answerer:
        llm = bot.llm
        base_url = (llm.base_url if llm else None) or settings.llm_base_url
        if llm is None or not base_url:
            raise BotUnavailable(
                "the llm bot has no base_url, nor the gateway CHATGATE_LLM_BASE_URL"
            )

        async def passages(text: str) -> Sequence[Passage]:
            return await find_passages(store, bot.org_id, text)

        return LlmAnswerer(
            base_url=base_url,
            model=llm.model,
            api_key=llm.api_key or settings.llm_api_key,
            system_prompt=llm.system_prompt,
            passages=passages,
            timeout=float(bot.timeout_seconds),
            http=llm_http,
            idle_timeout=settings.llm_idle_timeout,
        )

    return answerer_for
