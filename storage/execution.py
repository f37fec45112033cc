"""Turn a ``Plan`` into rows and events: the seq assignment every backend shares.

Pure: the backends call ``execute`` inside their transaction and write what it returns.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Role
from storage.models import (
    Conversation,
    ConversationChange,
    Message,
    NewMessage,
    OutboxItem,
    Plan,
    to_wire,
)

__all__ = ["Execution", "check_quota", "counted_messages", "execute", "month_of", "month_start"]

#: Conversation fields a plan may change.
CHANGEABLE = frozenset(
    {
        "status",
        "handler",
        "epoch",
        "assignee_id",
        "resolved_at",
        "ended_at",
        "live_agent_handoff_at",
        "first_response_at",
        "metadata",
    }
)


@dataclass(frozen=True, slots=True)
class Execution:
    """What to write: the new conversation row, new message rows, new change rows."""

    conversation: Conversation
    messages: tuple[Message, ...]
    changes: tuple[tuple[int, dict[str, Any]], ...]
    events: tuple[MessageCreated | ConversationUpdated, ...]
    #: The plan's own outbox items (the store adds those derived from ``events``).
    outbox: tuple[OutboxItem, ...] = ()


def execute(conversation: Conversation, plan: Plan, at: datetime) -> Execution:
    """Apply ``plan`` to ``conversation`` in memory, giving each step the next seq."""
    current = conversation
    messages: list[Message] = []
    changes: list[tuple[int, dict[str, Any]]] = []
    events: list[MessageCreated | ConversationUpdated] = []
    for step in plan.steps:
        if isinstance(step, NewMessage):
            seq = current.last_seq + 1
            message = Message(
                id=step.id or str(uuid.uuid4()),
                conversation_id=current.id,
                seq=seq,
                role=step.role,
                sender_id=step.sender_id,
                content=step.content,
                attachments=step.attachments,
                metadata=step.metadata,
                client_message_id=step.client_message_id,
                created_at=at if step.created_at is None else step.created_at,
                private=step.private,
            )
            current = dataclasses.replace(current, last_seq=seq, updated_at=at)
            messages.append(message)
            events.append(MessageCreated(current.id, seq, to_wire(message)))
        else:
            current, event = _change(current, step, at)
            if event is not None:
                changes.append((event.seq, event.data))
                events.append(event)
    return Execution(current, tuple(messages), tuple(changes), tuple(events), plan.outbox)


def _change(
    current: Conversation, step: ConversationChange, at: datetime
) -> tuple[Conversation, ConversationUpdated | None]:
    unknown = set(step.updates) - CHANGEABLE
    if unknown:
        raise RuntimeError(f"a plan may not change {sorted(unknown)}")
    diff = {
        name: [to_wire(getattr(current, name)), to_wire(value)]
        for name, value in step.updates.items()
        if getattr(current, name) != value
    }
    if not diff:
        return current, None
    seq = current.last_seq + 1
    current = dataclasses.replace(current, **step.updates, last_seq=seq, updated_at=at)
    return current, ConversationUpdated(current.id, seq, to_wire(current), diff)


# -- monthly message quota ----------------------------------------------------------------


def counted_messages(messages: tuple[Message, ...]) -> int:
    """How many of ``messages`` count against the monthly limit (all but system markers)."""
    return sum(1 for m in messages if m.role is not Role.SYSTEM)


def month_of(at: datetime) -> str:
    """The quota month of a UTC time, ``YYYY-MM``."""
    return f"{at.year:04d}-{at.month:02d}"


def month_start(at: datetime) -> datetime:
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def check_quota(limit: int, used: int, adding: int) -> None:
    """Refuse ``adding`` messages when ``used`` of ``limit`` leaves no room for them."""
    if used + adding > limit:
        raise GatewayError(
            ErrorCode.QUOTA_EXCEEDED,
            f"the org's monthly message limit ({limit}) is reached",
            details={"limit": limit, "used": used},
        )
