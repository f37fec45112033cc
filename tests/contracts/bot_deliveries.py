"""The outbox contract for webhook bots: a visitor message stored in a ``bot_active``
conversation whose bot is a ``webhook`` bot is a delivery to the bot's url, signed with its
secret, written in the same transaction as the message.

Mixed into each backend's test class next to ``OutboxContract`` (same ``store`` fixture).
"""

from __future__ import annotations

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Handler, Role, Status
from storage.base import Store
from storage.models import BotWebhook, ConversationChange, NewMessage
from tests.contracts.outbox import claim_all, payload
from tests.contracts.rows import (
    add_conversation,
    add_org,
    bot_row,
    contact_row,
    plan_of,
    refuse,
    refuse_with,
    visitor_says,
)

__all__ = ["BotDeliveryContract"]

SECRET = "whsec_" + "B" * 32


class BotDeliveryContract:
    async def test_webhook_bot_gets_each_visitor_message_signed_in_order(
        self, store: Store
    ) -> None:
        """Each visitor message is one delivery to the bot's url with its secret, carrying the
        conversation (epoch, contact) and the stored message; the bot's own answer is not
        delivered; the deliveries of one conversation form one FIFO queue."""
        org = await add_org(store)
        bot = bot_row(org.id, kind="webhook", webhook=BotWebhook("https://bot.example/in", SECRET))
        await store.create_bot(bot)
        contact = contact_row(org.id, name="Vera")
        await store.get_or_create_contact(contact)
        conversation = await add_conversation(store, org.id, bot_id=bot.id, contact_id=contact.id)
        first = await store.apply(org.id, conversation.id, plan_of(visitor_says("one")))
        bot_says = NewMessage(role=Role.BOT, sender_id=None, content="hello")
        await store.apply(org.id, conversation.id, plan_of(bot_says))
        await store.apply(org.id, conversation.id, plan_of(visitor_says("two")))
        (delivery,) = await claim_all(store)
        assert (delivery.target, delivery.url, delivery.secrets) == (
            "bot",
            "https://bot.example/in",
            (SECRET,),
        )
        body = payload(delivery)
        assert body["type"] == "bot.message" and body["seq"] == 1
        assert body["data"]["message"]["id"] == first.messages[0].id
        assert body["data"]["conversation"]["epoch"] == 0
        assert body["data"]["conversation"]["contact"]["name"] == "Vera"
        assert body["data"]["bot"] == {"id": bot.id, "name": bot.name}
        assert delivery.fifo_key is not None and delivery.fifo_key.endswith(conversation.id)

    async def test_no_bot_delivery_without_a_stored_visitor_message_for_a_webhook_bot(
        self, store: Store
    ) -> None:
        """Nothing for a knowledge bot, for a refused write (same transaction), or once the
        conversation has left the bot."""
        org = await add_org(store)
        knowledge = bot_row(org.id)
        hook = bot_row(org.id, kind="webhook", webhook=BotWebhook("https://bot.example/in", SECRET))
        for bot in (knowledge, hook):
            await store.create_bot(bot)
        plain = await add_conversation(store, org.id, bot_id=knowledge.id)
        await store.apply(org.id, plain.id, plan_of(visitor_says()))
        hooked = await add_conversation(store, org.id, bot_id=hook.id)
        error = GatewayError(ErrorCode.INVALID_STATE, "no")
        await refuse_with(store.apply(org.id, hooked.id, refuse(error)))
        taken = ConversationChange({"status": Status.OPEN, "handler": Handler.AGENT, "epoch": 1})
        await store.apply(org.id, hooked.id, plan_of(taken, visitor_says("after")))
        assert [d for d in await claim_all(store) if d.target == "bot"] == []
