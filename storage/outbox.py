"""What a change puts in the outbox: webhook deliveries, live-agent forwards and timers.

Pure: the backends call ``derive_applied`` (and ``derive_created``) inside the transaction
that stores the change, so a delivery exists exactly when its change does (the transactional
outbox). ``Targets`` is what the backend read in that transaction: the org's endpoints that
are not disabled, and the conversation's widget when it has a live-agent platform.

Webhook payloads (``kind="events"`` endpoints)::

    {"id": "msg_...", "type": "message.created", "org_id": ..., "conversation_id": ...,
     "seq": 7, "occurred_at": "...", "data": {"message": {...}}}

``seq`` is the seq of the stored event the payload reports; several types may report one
event (``conversation.updated`` and ``conversation.escalated`` for one status change), each
with its own id. ``conversation.created`` reports seq 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status
from storage.bot_outbox import bot_message
from storage.execution import Execution
from storage.models import (
    Bot,
    Contact,
    Conversation,
    Message,
    OutboxItem,
    WebhookEndpoint,
    Widget,
    to_wire as _to_wire,
)

__all__ = [
    "CHANNEL_MESSAGE",
    "EVENT_TYPES",
    "LIVE_AGENT_ESCALATE",
    "LIVE_AGENT_TIMEOUT",
    "Targets",
    "derive",
    "derive_applied",
    "derive_created",
    "live_agent_initial",
    "live_agent_timeout",
    "new_message_id",
]

CONVERSATION_CREATED: Final = "conversation.created"
CONVERSATION_UPDATED: Final = "conversation.updated"
MESSAGE_CREATED: Final = "message.created"

#: Every event type an ``events`` endpoint can subscribe to.
EVENT_TYPES: Final = (
    CONVERSATION_CREATED,
    CONVERSATION_UPDATED,
    "conversation.escalated",
    "conversation.taken_over",
    "conversation.resolved",
    "conversation.ended",
    MESSAGE_CREATED,
)
#: What ``channel`` endpoints receive: each outgoing message of an ``api`` conversation.
CHANNEL_MESSAGE: Final = "channel.message"
#: Timers: hand a waiting conversation to the live-agent platform; give up on it.
LIVE_AGENT_ESCALATE: Final = "live_agent.escalate"
LIVE_AGENT_TIMEOUT: Final = "live_agent.timeout"

#: A status change that also gets a type of its own.
STATUS_EVENTS: Final = {
    Status.AGENT_REQUESTED.value: "conversation.escalated",
    Status.RESOLVED.value: "conversation.resolved",
    Status.CLOSED.value: "conversation.ended",
}
OUTGOING_ROLES: Final = frozenset({Role.AGENT, Role.BOT, Role.LIVE_AGENT, Role.SYSTEM})


@dataclass(frozen=True, slots=True)
class Targets:
    """Who may receive what a change reports."""

    endpoints: tuple[WebhookEndpoint, ...] = ()
    #: The conversation's widget, when it has a ``live_agent_endpoint_url``.
    live_agent: Widget | None = None
    #: The conversation's bot, when it is a ``webhook`` bot, and the conversation's contact
    #: (what the bot's delivery tells of the visitor).
    bot: Bot | None = None
    contact: Contact | None = None


def new_message_id() -> str:
    """A webhook message id (``webhook-id``): the same on every attempt and replay."""
    return f"msg_{uuid.uuid4().hex}"


def derive_created(conversation: Conversation, targets: Targets, at: datetime) -> list[OutboxItem]:
    data = {"conversation": _to_wire(conversation)}
    return list(_webhooks(conversation, CONVERSATION_CREATED, 0, data, targets, at))


def derive(
    conversation: Conversation,
    events: Sequence[MessageCreated | ConversationUpdated],
    targets: Targets,
    at: datetime,
) -> list[OutboxItem]:
    """The deliveries and timers that ``events`` (just stored) call for.

    ``conversation`` is the row after the change.
    """
    items: list[OutboxItem] = []
    for event in events:
        if isinstance(event, MessageCreated):
            message = event.message
            items.extend(
                _webhooks(
                    conversation, MESSAGE_CREATED, event.seq, {"message": message}, targets, at
                )
            )
            items.extend(_channel(conversation, event, targets, at))
            items.extend(_bot(conversation, event, targets, at))
            if message["role"] == Role.VISITOR.value and _forwarding(conversation, targets):
                items.append(
                    _live_agent(conversation, "MESSAGE", event.seq, {"message": message}, at)
                )
            continue
        data = {"conversation": event.conversation, "changes": event.changes}
        items.extend(_webhooks(conversation, CONVERSATION_UPDATED, event.seq, data, targets, at))
        for name in _types_of(event):
            items.extend(_webhooks(conversation, name, event.seq, data, targets, at))
        items.extend(_live_agent_steps(conversation, event, targets, at))
    return items


def derive_applied(done: Execution, targets: Targets, at: datetime) -> list[OutboxItem]:
    """Everything an executed plan puts in the outbox: what its events call for (``derive``),
    then the plan's own items."""
    return [*derive(done.conversation, done.events, targets, at), *done.outbox]


def live_agent_initial(
    conversation: Conversation,
    contact: Contact | None,
    transcript: Iterable[Message],
    at: datetime,
) -> OutboxItem:
    """``INITIAL_CONVERSATION`` for the platform: the thread, the visitor, the transcript."""
    visitor = None
    if contact is not None:
        visitor = {
            "id": contact.id,
            "external_id": contact.external_id,
            "name": contact.name,
            "email": contact.email,
            "metadata": contact.metadata,
        }
    body = {
        "visitor": visitor,
        "messages": [_to_wire(m) for m in transcript],
        "created_at": _to_wire(conversation.created_at),
    }
    return _live_agent(conversation, "INITIAL_CONVERSATION", conversation.last_seq, body, at)


def live_agent_timeout(conversation: Conversation, widget: Widget, at: datetime) -> OutboxItem:
    """The timer that gives up on the platform if no live agent has answered by then
    (``at`` is the hand-off it is about)."""
    due = at + timedelta(seconds=widget.live_agent_timeout)
    return _timer(conversation, LIVE_AGENT_TIMEOUT, due, handoff_at=_to_wire(at))


# -- webhooks -----------------------------------------------------------------------------


def _types_of(event: ConversationUpdated) -> list[str]:
    names = []
    status = event.changes.get("status")
    if status is not None and status[1] in STATUS_EVENTS:
        names.append(STATUS_EVENTS[status[1]])
    handler = event.changes.get("handler")
    if handler is not None and handler[0] == Handler.BOT.value:
        names.append("conversation.taken_over")
    return names


def _webhooks(
    conversation: Conversation,
    event_type: str,
    seq: int,
    data: dict[str, Any],
    targets: Targets,
    at: datetime,
) -> Iterable[OutboxItem]:
    subscribed = [
        e
        for e in targets.endpoints
        if e.kind == "events" and (not e.event_types or event_type in e.event_types)
    ]
    return _to_endpoints(conversation, event_type, seq, data, subscribed, at)


def _channel(
    conversation: Conversation, event: MessageCreated, targets: Targets, at: datetime
) -> Iterable[OutboxItem]:
    """An ``api`` conversation's outgoing messages go to the org's channel endpoints, in order
    (private notes never: the channel is the visitor's)."""
    if (
        conversation.channel != "api"
        or event.message["role"] not in OUTGOING_ROLES
        or event.message.get("private")
    ):
        return ()
    data = {"message": event.message, "conversation": _to_wire(conversation)}
    channels = [e for e in targets.endpoints if e.kind == "channel"]
    return _to_endpoints(conversation, CHANNEL_MESSAGE, event.seq, data, channels, at, fifo=True)


def _to_endpoints(
    conversation: Conversation,
    event_type: str,
    seq: int,
    data: dict[str, Any],
    endpoints: Sequence[WebhookEndpoint],
    at: datetime,
    *,
    fifo: bool = False,
) -> list[OutboxItem]:
    """One message (one id, one payload) for each of ``endpoints``."""
    message_id = new_message_id()
    payload = {
        "id": message_id,
        "type": event_type,
        "org_id": conversation.org_id,
        "conversation_id": conversation.id,
        "seq": seq,
        "occurred_at": _to_wire(at),
        "data": data,
    }
    return [
        OutboxItem(
            message_id=message_id,
            org_id=conversation.org_id,
            target="endpoint",
            event_type=event_type,
            payload=payload,
            due_at=at,
            endpoint_id=endpoint.id,
            conversation_id=conversation.id,
            seq=seq,
            fifo_key=f"{endpoint.id}:{conversation.id}" if fifo or endpoint.fifo else None,
        )
        for endpoint in endpoints
    ]


def _bot(
    conversation: Conversation, event: MessageCreated, targets: Targets, at: datetime
) -> Iterable[OutboxItem]:
    """A visitor message for the conversation's webhook bot (``storage.bot_outbox``)."""
    bot = targets.bot
    if bot is None or bot.webhook is None:
        return ()
    return bot_message(
        conversation,
        targets.contact,
        event.message,
        event.seq,
        bot_id=bot.id,
        bot_name=bot.name,
        timeout_seconds=bot.timeout_seconds,
        message_id=new_message_id(),
        at=at,
    )


# -- the live-agent platform (Bland pattern) ----------------------------------------------


def _forwarding(conversation: Conversation, targets: Targets) -> bool:
    """Whether the platform has this thread: handed off, not taken by the org's own agents."""
    return (
        targets.live_agent is not None
        and conversation.live_agent_handoff_at is not None
        and conversation.handler is not Handler.AGENT
    )


def _live_agent_steps(
    conversation: Conversation, event: ConversationUpdated, targets: Targets, at: datetime
) -> Iterable[OutboxItem]:
    widget = targets.live_agent
    status = event.changes.get("status")
    if widget is None or status is None:
        return
    if (
        status[1] == Status.AGENT_REQUESTED.value
        and conversation.handler is Handler.BOT
        and conversation.live_agent_handoff_at is None
    ):
        due = at + timedelta(seconds=widget.live_agent_escalate_after)
        yield _timer(conversation, LIVE_AGENT_ESCALATE, due)
    elif status[1] == Status.CLOSED.value and _forwarding(conversation, targets):
        body = {"ended_at": _to_wire(conversation.ended_at)}
        yield _live_agent(conversation, "END_CONVERSATION", event.seq, body, at)


def _live_agent(
    conversation: Conversation, kind: str, seq: int, body: dict[str, Any], at: datetime
) -> OutboxItem:
    message_id = new_message_id()
    payload = {
        "type": kind,
        "id": message_id,
        "thread_id": conversation.id,
        "widget_id": conversation.widget_id,
        "seq": seq,
        "occurred_at": _to_wire(at),
        **body,
    }
    return OutboxItem(
        message_id=message_id,
        org_id=conversation.org_id,
        target="live_agent",
        event_type=kind,
        payload=payload,
        due_at=at,
        widget_id=conversation.widget_id,
        conversation_id=conversation.id,
        seq=seq,
        fifo_key=f"live_agent:{conversation.id}",
    )


def _timer(conversation: Conversation, kind: str, due: datetime, **extra: Any) -> OutboxItem:
    return OutboxItem(
        message_id=new_message_id(),
        org_id=conversation.org_id,
        target="timer",
        event_type=kind,
        payload={"conversation_id": conversation.id, **extra},
        due_at=due,
        widget_id=conversation.widget_id,
        conversation_id=conversation.id,
    )
