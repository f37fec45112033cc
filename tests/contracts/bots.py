"""The ``Store`` contract for bots, and the bot a widget and a conversation name.

Included in ``StoreContract``; the ``store`` fixture is the backend's.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from storage.base import Store
from storage.models import BotLlm, BotWebhook, now
from tests.contracts.rows import (
    add_conversation,
    add_org,
    bot_row,
    new_id,
    plan_of,
    visitor_says,
    widget_row,
)

__all__ = ["BotContract"]


class BotContract:
    async def test_bot_round_trips_every_field(self, store: Store) -> None:
        """A bot reads back exactly as created, llm and webhook settings included."""
        org = await add_org(store)
        llm = bot_row(
            org.id,
            kind="llm",
            confidence_threshold=0.55,
            handoff_on_failure=False,
            llm=BotLlm("https://llm.example/v1", "gpt-x", "Be brief.", "sk-secret"),
        )
        hook = bot_row(
            org.id, kind="webhook", webhook=BotWebhook("https://bot.example/in", "whsec_abc")
        )
        plain = bot_row(org.id, handoff_phrases=())
        # Listed oldest first.
        hook = dataclasses.replace(hook, created_at=llm.created_at + timedelta(seconds=1))
        plain = dataclasses.replace(plain, created_at=llm.created_at + timedelta(seconds=2))
        for bot in (llm, hook, plain):
            await store.create_bot(bot)
            assert await store.get_bot(org.id, bot.id) == bot
        assert await store.list_bots(org.id) == [llm, hook, plain]

    async def test_bot_of_another_org_is_invisible(self, store: Store) -> None:
        """Another org neither reads, lists, changes nor deletes a bot: as for an unknown id."""
        org, other = await add_org(store), await add_org(store)
        bot = bot_row(org.id)
        await store.create_bot(bot)
        assert await store.get_bot(other.id, bot.id) is None
        assert await store.list_bots(other.id) == []
        assert await store.update_bot(other.id, bot.id, {"name": "Mine"}, now()) is None
        assert await store.delete_bot(other.id, bot.id) is False
        assert await store.get_bot(org.id, new_id()) is None
        assert await store.get_bot(org.id, bot.id) == bot

    async def test_bot_update_changes_given_fields_and_stamps_it(self, store: Store) -> None:
        """update_bot changes what it is given (llm replaced whole), sets updated_at."""
        org = await add_org(store)
        bot = bot_row(org.id)
        await store.create_bot(bot)
        later = bot.updated_at + timedelta(seconds=5)
        llm = BotLlm("https://llm.example/v1", "m", None, None)
        updated = await store.update_bot(
            org.id,
            bot.id,
            {"kind": "llm", "llm": llm, "handoff_phrases": ("agent",), "handoff_after": 0},
            later,
        )
        expected = dataclasses.replace(
            bot, kind="llm", llm=llm, handoff_phrases=("agent",), handoff_after=0, updated_at=later
        )
        assert updated == expected
        assert await store.get_bot(org.id, bot.id) == expected
        cleared = await store.update_bot(org.id, bot.id, {"kind": "knowledge", "llm": None}, later)
        assert cleared == dataclasses.replace(expected, kind="knowledge", llm=None)

    async def test_bot_delete_takes_it_off_widgets_not_conversations(self, store: Store) -> None:
        """Deleting a bot clears bot_id of the widgets naming it (others keep theirs);
        conversations keep the bot they started with."""
        org = await add_org(store)
        bot, kept = bot_row(org.id), bot_row(org.id)
        await store.create_bot(bot)
        await store.create_bot(kept)
        widget = widget_row(org.id, bot_id=bot.id)
        other = widget_row(org.id, bot_id=kept.id)
        await store.create_widget(widget)
        await store.create_widget(other)
        conversation = await add_conversation(store, org.id, widget_id=widget.id, bot_id=bot.id)
        assert await store.delete_bot(org.id, bot.id) is True
        assert await store.get_bot(org.id, bot.id) is None
        assert await store.delete_bot(org.id, bot.id) is False
        read = await store.get_widget(org.id, widget.id)
        assert read is not None and read.bot_id is None
        assert await store.get_widget(org.id, other.id) == other
        started = await store.get_conversation(org.id, conversation.id)
        assert started is not None and started.bot_id == bot.id

    async def test_widget_names_its_bot(self, store: Store) -> None:
        """A widget's bot_id is stored at creation and changed (or cleared) by update_widget."""
        org = await add_org(store)
        bot = bot_row(org.id)
        await store.create_bot(bot)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        assert widget.bot_id is None
        named = await store.update_widget(org.id, widget.id, {"bot_id": bot.id})
        assert named == dataclasses.replace(widget, bot_id=bot.id)
        assert await store.get_widget(None, widget.id) == named
        cleared = await store.update_widget(org.id, widget.id, {"bot_id": None})
        assert cleared == widget

    async def test_conversation_keeps_its_bot_through_changes(self, store: Store) -> None:
        """A conversation's bot_id is stored at creation and survives apply."""
        org = await add_org(store)
        bot = bot_row(org.id)
        await store.create_bot(bot)
        conversation = await add_conversation(store, org.id, bot_id=bot.id)
        applied = await store.apply(org.id, conversation.id, plan_of(visitor_says("hi")))
        assert applied.conversation.bot_id == bot.id
        listed = await store.list_conversations(org.id)
        assert [c.bot_id for c in listed] == [bot.id]
