"""storage.bot_outbox: the delivery a visitor message makes for a webhook bot (pure)."""

from __future__ import annotations

from datetime import timedelta

from protocol.states import Handler, Role, Status
from storage.bot_outbox import bot_message
from storage.models import Contact, Conversation, now
from tests.contracts.rows import conversation_row

AT = now()


def conversation(**fields: object) -> Conversation:
    earlier = AT - timedelta(minutes=1)
    return conversation_row("org-1", created_at=earlier, updated_at=earlier, **fields)


def message(role: Role = Role.VISITOR) -> dict[str, object]:
    return {"id": "m-1", "seq": 3, "role": role.value, "content": "hi"}


def test_bot_message_carries_the_conversation_its_epoch_the_message_and_how_to_reply() -> None:
    """A visitor message in bot_active: one FIFO delivery to the bot, with the epoch to
    answer with and a client_message_id that makes a repeated answer harmless."""
    conv = conversation(epoch=2)
    contact = Contact("ct-1", "org-1", None, "ext-1", "Vera", None, {}, AT)
    item, timer = bot_message(
        conv,
        contact,
        message(),
        3,
        bot_id="b-1",
        bot_name="Echo",
        timeout_seconds=20,
        message_id="msg_1",
        at=AT,
    )
    assert (timer.target, timer.event_type, timer.due_at) == (
        "timer",
        "bot.timeout",
        AT + timedelta(seconds=20),
    )
    assert timer.payload == {
        "conversation_id": conv.id,
        "bot_id": "b-1",
        "after_seq": 3,
        "epoch": 2,
    }
    assert (item.target, item.bot_id, item.event_type) == ("bot", "b-1", "bot.message")
    assert item.fifo_key == f"bot:b-1:{conv.id}"
    data = item.payload["data"]
    assert data["conversation"]["epoch"] == 2 and data["conversation"]["status"] == "bot_active"
    assert data["conversation"]["contact"]["name"] == "Vera"
    assert data["message"]["content"] == "hi"
    assert data["reply"]["body"] == {"role": "bot", "epoch": 2, "client_message_id": "bot-m-1"}
    assert item.payload["seq"] == 3 and item.payload["id"] == "msg_1"


def test_bot_message_only_for_a_visitor_while_the_bot_handles_it() -> None:
    """No delivery for the bot's own or an agent's message, nor once a human was asked for
    or has taken over."""
    kw = {"bot_id": "b", "bot_name": "B", "timeout_seconds": 5, "message_id": "msg", "at": AT}
    assert bot_message(conversation(), None, message(Role.BOT), 3, **kw) == ()  # type: ignore[arg-type]
    waiting = conversation(status=Status.AGENT_REQUESTED)
    assert bot_message(waiting, None, message(), 3, **kw) == ()  # type: ignore[arg-type]
    taken = conversation(status=Status.OPEN, handler=Handler.AGENT, epoch=1)
    assert bot_message(taken, None, message(), 3, **kw) == ()  # type: ignore[arg-type]
