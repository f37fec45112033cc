"""What a visitor message puts in the outbox for a ``webhook`` bot: one signed delivery.

Pure, like ``storage.outbox`` (which calls ``derive_bot``) : the backends run it inside the
transaction that stores the visitor's message, so the bot hears of exactly the messages that
were stored, each once (the transactional outbox; retries keep the ``webhook-id``). The
delivery goes to the bot's ``webhook.url``, signed with its secret (Standard Webhooks
headers, as every webhook), in order per conversation (FIFO).

Payload (docs/bots.md, "webhook")::

    {"id": "msg_...", "type": "bot.message", "org_id", "conversation_id", "seq",
     "occurred_at", "data": {
        "bot": {"id", "name"},
        "conversation": {"id", "status", "handler", "epoch", "channel", "widget_id",
                         "metadata", "contact": {"id", "external_id", "name", "email",
                         "metadata"} | null},
        "message": {...the stored message...},
        "reply": {"method": "POST", "path": "/v1/conversations/{id}/messages",
                  "body": {"role": "bot", "epoch": N, "client_message_id": "bot-{message id}"}}}}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from protocol.states import Handler, Role, Status
from storage.models import Contact, Conversation, OutboxItem, to_wire

__all__ = ["BOT_MESSAGE", "BOT_TIMEOUT", "bot_message"]

#: The event type of a webhook bot's delivery.
BOT_MESSAGE: Final = "bot.message"
#: The timer that gives up on the bot if it has not answered in its ``timeout_seconds``.
BOT_TIMEOUT: Final = "bot.timeout"


def bot_message(
    conversation: Conversation,
    contact: Contact | None,
    message: dict[str, Any],
    seq: int,
    *,
    bot_id: str,
    bot_name: str,
    timeout_seconds: int,
    message_id: str,
    at: datetime,
) -> tuple[OutboxItem, ...]:
    """The delivery of a stored ``message`` (wire form) to the conversation's webhook bot,
    and the ``bot.timeout`` timer ``timeout_seconds`` later (``gateway.bot.webhook`` then
    says the bot's fallback answer if it has not answered); nothing when the bot is not the
    one to answer it (not a visitor's, not ``bot_active``, or the bot no longer handles the
    conversation)."""
    if (
        message["role"] != Role.VISITOR.value
        or conversation.status != Status.BOT_ACTIVE
        or conversation.handler != Handler.BOT
    ):
        return ()
    path = f"/v1/conversations/{conversation.id}/messages"
    reply = {
        "method": "POST",
        "path": path,
        "body": {
            "role": Role.BOT.value,
            "epoch": conversation.epoch,
            "client_message_id": f"bot-{message['id']}",
        },
    }
    data = {
        "bot": {"id": bot_id, "name": bot_name},
        "conversation": {
            "id": conversation.id,
            "status": str(conversation.status),
            "handler": str(conversation.handler),
            "epoch": conversation.epoch,
            "channel": conversation.channel,
            "widget_id": conversation.widget_id,
            "metadata": conversation.metadata,
            "contact": None if contact is None else _contact(contact),
        },
        "message": message,
        "reply": reply,
    }
    payload = {
        "id": message_id,
        "type": BOT_MESSAGE,
        "org_id": conversation.org_id,
        "conversation_id": conversation.id,
        "seq": seq,
        "occurred_at": to_wire(at),
        "data": data,
    }
    delivery = OutboxItem(
        message_id=message_id,
        org_id=conversation.org_id,
        target="bot",
        event_type=BOT_MESSAGE,
        payload=payload,
        due_at=at,
        conversation_id=conversation.id,
        seq=seq,
        fifo_key=f"bot:{bot_id}:{conversation.id}",
        bot_id=bot_id,
    )
    timer = OutboxItem(
        message_id=f"{message_id}_timeout",
        org_id=conversation.org_id,
        target="timer",
        event_type=BOT_TIMEOUT,
        payload={
            "conversation_id": conversation.id,
            "bot_id": bot_id,
            "after_seq": seq,
            "epoch": conversation.epoch,
        },
        due_at=at + timedelta(seconds=timeout_seconds),
        widget_id=conversation.widget_id,
        conversation_id=conversation.id,
    )
    return delivery, timer


def _contact(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "external_id": contact.external_id,
        "name": contact.name,
        "email": contact.email,
        "metadata": contact.metadata,
    }
