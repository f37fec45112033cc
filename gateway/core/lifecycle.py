"""The conversation lifecycle, as pure decisions: given a conversation and a request, the
``Plan`` to store, or a ``GatewayError``.

::

    bot_active --(PATCH agent_requested)--> agent_requested
    agent_requested --(first human reply, or PATCH open)--> open           (takeover)
    bot_active | agent_requested | open --PATCH--> resolved | closed
    closed --PATCH--> archived
    resolved | closed | archived --PATCH open--> open                      (reopen)
    any status but closed | archived --end--> closed                       (ended_at)

A takeover (the first human to answer while the bot handles the conversation) sets the
handler to the human, bumps ``epoch`` and adds the system marker message. A responder that
writes with a stale ``epoch`` gets ``control_lost``; the bot gets it whenever the handler is
no longer the bot, so after a takeover the bot can never speak again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Handler, Role, Status
from storage.models import Conversation, ConversationChange, NewMessage, Plan

__all__ = [
    "FALLBACK_MARKERS",
    "TAKEOVER_MARKER",
    "new_conversation",
    "plan_end",
    "plan_fallback",
    "plan_message",
    "plan_update",
]

TAKEOVER_MARKER: Final = "A team member has joined the conversation."
#: What the visitor reads when the live-agent platform never answered, by fallback.
FALLBACK_MARKERS: Final = {
    "bot": "No live agent is available right now, so the assistant will keep helping you.",
    "team": "No live agent is available right now. A team member will reply here soon.",
}

TRANSITIONS: Final = frozenset(
    {
        (Status.BOT_ACTIVE, Status.AGENT_REQUESTED),
        (Status.BOT_ACTIVE, Status.RESOLVED),
        (Status.BOT_ACTIVE, Status.CLOSED),
        (Status.AGENT_REQUESTED, Status.OPEN),
        (Status.AGENT_REQUESTED, Status.RESOLVED),
        (Status.AGENT_REQUESTED, Status.CLOSED),
        (Status.OPEN, Status.RESOLVED),
        (Status.OPEN, Status.CLOSED),
        (Status.CLOSED, Status.ARCHIVED),
        (Status.RESOLVED, Status.OPEN),
        (Status.CLOSED, Status.OPEN),
        (Status.ARCHIVED, Status.OPEN),
    }
)

HUMAN_HANDLER: Final = {Role.AGENT: Handler.AGENT, Role.LIVE_AGENT: Handler.LIVE_AGENT}
ACCEPTS_HUMANS: Final = frozenset({Status.OPEN, Status.AGENT_REQUESTED})
ACCEPTS_VISITORS: Final = frozenset({Status.BOT_ACTIVE, Status.AGENT_REQUESTED, Status.OPEN})
ACCEPTS_BOT: Final = frozenset({Status.BOT_ACTIVE, Status.AGENT_REQUESTED})
ENDED: Final = frozenset({Status.CLOSED, Status.ARCHIVED})


def new_conversation(
    *,
    org_id: str,
    widget_id: str | None,
    contact_id: str | None,
    metadata: dict[str, Any],
    at: datetime,
    channel: str = "widget",
    bot_id: str | None = None,
) -> Conversation:
    """A conversation as every conversation starts: the bot answers first."""
    return Conversation(
        id=str(uuid.uuid4()),
        org_id=org_id,
        widget_id=widget_id,
        contact_id=contact_id,
        status=Status.BOT_ACTIVE,
        handler=Handler.BOT,
        epoch=0,
        assignee_id=None,
        created_at=at,
        updated_at=at,
        resolved_at=None,
        ended_at=None,
        live_agent_handoff_at=None,
        first_response_at=None,
        last_seq=0,
        metadata=metadata,
        channel=channel,
        bot_id=bot_id,
    )


def plan_message(
    conversation: Conversation,
    message: NewMessage,
    *,
    epoch: int | None,
    at: datetime,
) -> Plan:
    """Append ``message``, taking the conversation over if a human answers the bot's.

    A private note (staff only, role agent) is appended in any status and changes nothing
    else: no takeover, no ``first_response_at``.
    """
    _check_epoch(conversation, epoch)
    role, status = message.role, conversation.status
    if message.private:
        if role is not Role.AGENT:
            raise RuntimeError(f"role {role} cannot write private notes")
        return Plan((message,))
    if role is Role.BOT:
        if conversation.handler is not Handler.BOT:
            raise GatewayError(
                ErrorCode.CONTROL_LOST, "a human has taken over; the bot can no longer reply"
            )
        _require_status(status, ACCEPTS_BOT, "the bot")
        return Plan((message,))
    if role is Role.VISITOR:
        _require_status(status, ACCEPTS_VISITORS, "the visitor")
        return Plan((message,))
    handler = HUMAN_HANDLER.get(role)
    if handler is None:
        raise RuntimeError(f"role {role} cannot send messages")
    _require_status(status, ACCEPTS_HUMANS, "a human")
    updates: dict[str, Any] = {}
    if conversation.first_response_at is None:
        updates["first_response_at"] = at
    if conversation.handler is not handler:
        if conversation.handler is Handler.BOT:
            return _takeover(conversation, handler, message.sender_id, at, then=(message,))
        updates.update(handler=handler, epoch=conversation.epoch + 1)
    steps: tuple[ConversationChange | NewMessage, ...] = (message,)
    if updates:
        steps = (ConversationChange(updates), message)
    return Plan(steps)


def plan_update(
    conversation: Conversation,
    *,
    status: Status | None,
    assignee: tuple[str | None] | None,
    epoch: int | None,
    actor_agent_id: str | None,
    at: datetime,
) -> Plan:
    """Change status and/or assignee (``assignee`` is ``(value,)`` when given)."""
    _check_epoch(conversation, epoch)
    updates: dict[str, Any] = {}
    if assignee is not None:
        updates["assignee_id"] = assignee[0]
    if status is not None and status is not conversation.status:
        if status is Status.BOT_ACTIVE:
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                "status bot_active cannot be set; a conversation starts there",
                details={"path": "$.status"},
            )
        if (conversation.status, status) not in TRANSITIONS:
            raise GatewayError(
                ErrorCode.INVALID_STATE,
                f"a conversation cannot go from {conversation.status} to {status}",
                details={"status": conversation.status.value},
            )
        updates["status"] = status
        if status is Status.RESOLVED:
            updates["resolved_at"] = at
        elif status is Status.CLOSED:
            updates["ended_at"] = at
        elif status is Status.OPEN:
            updates.update(resolved_at=None, ended_at=None)
            if conversation.handler is Handler.BOT:
                return _takeover(conversation, Handler.AGENT, actor_agent_id, at, extra=updates)
    return Plan((ConversationChange(updates),)) if updates else Plan(())


def plan_end(conversation: Conversation, *, at: datetime) -> Plan:
    """End the conversation from any status but an ended one: ``closed``, ``ended_at``."""
    if conversation.status in ENDED:
        raise GatewayError(
            ErrorCode.INVALID_STATE,
            f"the conversation has already ended (status {conversation.status})",
            details={"status": conversation.status.value},
        )
    return Plan((ConversationChange({"status": Status.CLOSED, "ended_at": at}),))


def plan_fallback(conversation: Conversation, fallback: str, reason: str) -> Plan:
    """Take a handed-off conversation back from a live-agent platform that never answered:
    back to the bot (``fallback="bot"``) or left waiting for the org's agents (``team``),
    with a system message telling the visitor so. Nothing if a human already answered or
    the conversation has ended."""
    if (
        conversation.live_agent_handoff_at is None
        or conversation.handler is not Handler.BOT
        or conversation.status in ENDED
    ):
        return Plan(())
    updates: dict[str, Any] = {"live_agent_handoff_at": None}
    if fallback == "bot" and conversation.status is Status.AGENT_REQUESTED:
        updates["status"] = Status.BOT_ACTIVE
    marker = NewMessage(
        role=Role.SYSTEM,
        sender_id=None,
        content=FALLBACK_MARKERS[fallback],
        metadata={"event": "live_agent_fallback", "fallback": fallback, "reason": reason},
    )
    return Plan((ConversationChange(updates), marker))


def _takeover(
    conversation: Conversation,
    handler: Handler,
    sender_id: str | None,
    at: datetime,
    *,
    then: tuple[NewMessage, ...] = (),
    extra: dict[str, Any] | None = None,
) -> Plan:
    updates: dict[str, Any] = {
        "status": Status.OPEN,
        "handler": handler,
        "epoch": conversation.epoch + 1,
        **(extra or {}),
    }
    if then and conversation.first_response_at is None:
        updates["first_response_at"] = at
    if handler is Handler.AGENT and sender_id is not None and conversation.assignee_id is None:
        updates.setdefault("assignee_id", sender_id)
    marker = NewMessage(
        role=Role.SYSTEM,
        sender_id=None,
        content=TAKEOVER_MARKER,
        metadata={"event": "takeover", "handler": handler.value},
    )
    return Plan((ConversationChange(updates), marker, *then))


def _check_epoch(conversation: Conversation, epoch: int | None) -> None:
    if epoch is not None and epoch != conversation.epoch:
        raise GatewayError(
            ErrorCode.CONTROL_LOST,
            f"epoch {epoch} is stale; the conversation is at epoch {conversation.epoch}",
            details={"epoch": conversation.epoch},
        )


def _require_status(status: Status, allowed: frozenset[Status], who: str) -> None:
    if status not in allowed:
        raise GatewayError(
            ErrorCode.INVALID_STATE,
            f"{who} cannot send while the conversation is {status}",
            details={"status": status.value},
        )
