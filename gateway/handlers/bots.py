"""``/v1/bots``: an org's bots, the first responders of its widgets' conversations.

Administration needs an API key. Every id belongs to the caller's org, or answers
``not_found``. An ``llm`` bot's API key is write-only (reads say ``api_key_set``); a
``webhook`` bot's signing secret is shown in the answer that created it, never again. The
URLs a bot sends to are vetted as webhook URLs are (no private or loopback address unless the
operator allows the host). Deleting a bot takes it off the widgets that named it.
"""

from __future__ import annotations

import uuid
from typing import Any

from msgspec import UNSET, UnsetType

from gateway.core.access import admin_org
from gateway.core.bus import Context
from gateway.core.results import BotView, Deleted
from gateway.delivery import signing
from gateway.media.fetch import Fetcher
from gateway.media.outbound import vet_url
from protocol import commands as cmd
from protocol.bots import BotWebhookInput, LlmChange
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import Bot, BotLlm, BotWebhook, now

__all__ = ["BotHandlers", "bot_of_org"]


class BotHandlers:
    """Args:
    outbound: vets webhook bots' URLs (as webhook endpoints').
    llm_http: vets ``llm`` bots' URLs (``gateway.bot.llm.llm_fetch_policy``).
    default_llm_url: the gateway's ``llm_base_url`` (empty: a bot must name its own).
    """

    def __init__(
        self, store: Store, outbound: Fetcher, llm_http: Fetcher, default_llm_url: str = ""
    ) -> None:
        self._store = store
        self._outbound = outbound
        self._llm_http = llm_http
        self._default_llm_url = default_llm_url

    async def create(self, ctx: Context, c: cmd.CreateBot) -> BotView:
        org_id = admin_org(ctx)
        llm = webhook = None
        if not isinstance(c.llm, UnsetType):
            await self._vet_llm_url(c.llm.base_url)
            llm = BotLlm(
                base_url=c.llm.base_url,
                model=c.llm.model,
                system_prompt=c.llm.system_prompt,
                api_key=None if c.llm.api_key is UNSET else c.llm.api_key,
            )
        if not isinstance(c.webhook, UnsetType):
            webhook = await self._webhook(c.webhook, None)
        at = now()
        bot = Bot(
            id=str(uuid.uuid4()),
            org_id=org_id,
            name=c.name,
            kind=c.kind,
            confidence_threshold=c.confidence_threshold,
            unknown_answer=c.unknown_answer,
            handoff_after=c.handoff_after,
            handoff_phrases=c.handoff_phrases,
            fallback_answer=c.fallback_answer,
            handoff_on_failure=c.handoff_on_failure,
            timeout_seconds=c.timeout_seconds,
            created_at=at,
            updated_at=at,
            llm=llm,
            webhook=webhook,
        )
        await self._store.create_bot(bot)
        return BotView.of(bot, secret=True)

    async def list_all(self, ctx: Context, c: cmd.ListBots) -> dict[str, list[BotView]]:
        return {"data": [BotView.of(b) for b in await self._store.list_bots(admin_org(ctx))]}

    async def get(self, ctx: Context, c: cmd.GetBot) -> BotView:
        return BotView.of(await bot_of_org(self._store, admin_org(ctx), c.bot_id))

    async def update(self, ctx: Context, c: cmd.UpdateBot) -> BotView:
        org_id = admin_org(ctx)
        current = await bot_of_org(self._store, org_id, c.bot_id)
        updates: dict[str, Any] = {
            name: getattr(c, name)
            for name in (
                "name",
                "kind",
                "confidence_threshold",
                "unknown_answer",
                "handoff_after",
                "handoff_phrases",
                "fallback_answer",
                "handoff_on_failure",
                "timeout_seconds",
            )
            if getattr(c, name) is not UNSET
        }
        kind = updates.get("kind", current.kind)
        llm = current.llm if kind == "llm" else None
        if not isinstance(c.llm, UnsetType):
            _kind_settings(kind, "llm")
            llm = await self._llm(c.llm, llm)
        webhook = current.webhook if kind == "webhook" else None
        new_secret = False
        if not isinstance(c.webhook, UnsetType):
            _kind_settings(kind, "webhook")
            webhook = await self._webhook(c.webhook, webhook)
            new_secret = current.webhook is None or webhook.secret != current.webhook.secret
        if kind == "llm" and llm is None:
            raise _invalid("kind llm needs llm (base_url and model)", "$.llm")
        if kind == "webhook" and webhook is None:
            raise _invalid("kind webhook needs webhook (url)", "$.webhook")
        updates.update(llm=llm, webhook=webhook)
        updated = await self._store.update_bot(org_id, current.id, updates, now())
        if updated is None:  # deleted meanwhile
            raise GatewayError.not_found("bot")
        return BotView.of(updated, secret=new_secret)

    async def delete(self, ctx: Context, c: cmd.DeleteBot) -> Deleted:
        if not await self._store.delete_bot(admin_org(ctx), str(c.bot_id)):
            raise GatewayError.not_found("bot")
        return Deleted(str(c.bot_id))

    async def _llm(self, change: LlmChange, current: BotLlm | None) -> BotLlm:
        if current is None and isinstance(change.model, UnsetType):
            raise _invalid("a new llm endpoint needs model", "$.llm.model")
        new = current is None
        if current is None:
            current = BotLlm(base_url=None, model="")
        base_url = current.base_url if change.base_url is UNSET else change.base_url
        if new or not isinstance(change.base_url, UnsetType):
            await self._vet_llm_url(base_url if isinstance(base_url, str) else None)
        return BotLlm(
            base_url=base_url if isinstance(base_url, str) else None,
            model=current.model if isinstance(change.model, UnsetType) else change.model,
            system_prompt=current.system_prompt
            if change.system_prompt is UNSET
            else change.system_prompt,
            api_key=current.api_key if change.api_key is UNSET else change.api_key,
        )

    async def _vet_llm_url(self, url: str | None) -> None:
        """A bot's own URL as the llm bot will send to it; without one, the gateway's."""
        if url is not None:
            await vet_url(self._llm_http, url, "$.llm.base_url")
        elif not self._default_llm_url:
            raise _invalid(
                "llm.base_url is required: this gateway has no CHATGATE_LLM_BASE_URL",
                "$.llm.base_url",
            )

    async def _webhook(self, given: BotWebhookInput, current: BotWebhook | None) -> BotWebhook:
        await vet_url(self._outbound, given.url, "$.webhook.url")
        if not isinstance(given.secret, UnsetType):
            secret = given.secret
        elif current is not None:
            secret = current.secret
        else:
            secret = signing.new_secret()
        return BotWebhook(url=given.url, secret=secret)


async def bot_of_org(store: Store, org_id: str, bot_id: uuid.UUID, path: str | None = None) -> Bot:
    """The org's bot, or ``not_found`` (at ``path`` when a field of the request named it)."""
    bot = await store.get_bot(org_id, str(bot_id))
    if bot is None:
        raise GatewayError.not_found("bot", path)
    return bot


def _kind_settings(kind: str, settings: str) -> None:
    if kind != settings:
        raise _invalid(f"{settings} goes with kind {settings}, not {kind}", f"$.{settings}")


def _invalid(message: str, path: str) -> GatewayError:
    return GatewayError(ErrorCode.VALIDATION_ERROR, message, details={"path": path})
