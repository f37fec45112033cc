"""Models to column values, for every backend: the way back from ``records``.

The rows that hold JSON are built here once, in the order of their table's columns (or of the
column list of the ``INSERT`` that writes them); each backend passes its ``Encoding``, which
says how its driver takes a timestamp, a JSON value and a flag. Short plain rows (orgs, agents,
API keys, nodes) stay beside their ``INSERT``.

Also here: the fields an update may change, for the tables that allow updates.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from storage.models import (
    Bot,
    Contact,
    Conversation,
    Message,
    OutboxItem,
    WebhookEndpoint,
    Widget,
)

__all__ = [
    "Encoding",
    "agent_updates",
    "attached_files",
    "bot",
    "bot_updates",
    "changes",
    "contact",
    "conversation",
    "endpoint_updates",
    "message",
    "outbox_item",
    "webhook_endpoint",
    "widget",
    "widget_updates",
]


@dataclass(frozen=True, slots=True)
class Encoding:
    """How a backend's driver takes the values that are not plain."""

    #: A timestamp column (never None: see ``time_or_none``).
    time: Callable[[datetime], Any]
    #: A JSON column.
    json: Callable[[Any], Any]
    #: A boolean column.
    flag: Callable[[bool], Any]
    #: A timestamp inside a JSON value (a secret's expiry), or None.
    json_time: Callable[[datetime | None], str | None]

    def time_or_none(self, value: datetime | None) -> Any:
        return None if value is None else self.time(value)


def conversation(v: Conversation, to: Encoding) -> tuple[Any, ...]:
    return (
        v.id,
        v.org_id,
        v.widget_id,
        v.contact_id,
        v.status.value,
        v.handler.value,
        v.epoch,
        v.assignee_id,
        to.time(v.created_at),
        to.time(v.updated_at),
        to.time_or_none(v.resolved_at),
        to.time_or_none(v.ended_at),
        to.time_or_none(v.live_agent_handoff_at),
        to.time_or_none(v.first_response_at),
        v.last_seq,
        to.json(v.metadata),
        v.channel,
        v.bot_id,
    )


def message(m: Message, to: Encoding) -> tuple[Any, ...]:
    return (
        m.id,
        m.conversation_id,
        m.seq,
        m.role.value,
        m.sender_id,
        m.content,
        to.json(list(m.attachments)),
        to.json(m.metadata),
        m.client_message_id,
        to.time(m.created_at),
        m.private,
    )


def attached_files(org_id: str, messages: Iterable[Message]) -> list[tuple[str, str, str]]:
    """``(org_id, sha256, conversation_id)`` of each stored file the messages carry, once."""
    found = dict.fromkeys(
        (org_id, a["sha256"], m.conversation_id)
        for m in messages
        for a in m.attachments
        if isinstance(a.get("sha256"), str)
    )
    return list(found)


def changes(
    conversation_id: str,
    stored: Iterable[tuple[int, dict[str, Any]]],
    at: datetime,
    to: Encoding,
) -> list[tuple[Any, ...]]:
    """``conversation_changes`` rows for the ``(seq, data)`` pairs of an execution."""
    return [(conversation_id, seq, to.json(data), to.time(at)) for seq, data in stored]


def contact(c: Contact, to: Encoding) -> tuple[Any, ...]:
    return (
        c.id,
        c.org_id,
        c.widget_id,
        c.external_id,
        c.name,
        c.email,
        to.json(c.metadata),
        to.time(c.created_at),
    )


def widget(w: Widget, to: Encoding) -> tuple[Any, ...]:
    """In the column order of ``create_widget``'s ``INSERT``."""
    return (
        w.id,
        w.org_id,
        w.name,
        _json_list(to, w.allowed_origins),
        w.messages_per_minute,
        w.live_agent_endpoint_url,
        to.json(w.bot_settings),
        to.time(w.created_at),
        w.live_agent_escalate_after,
        w.live_agent_timeout,
        w.live_agent_fallback,
        w.live_agent_secret,
        to.json(w.appearance),
        to.flag(w.identity_required),
        w.bot_id,
    )


def bot(b: Bot, to: Encoding) -> tuple[Any, ...]:
    """In the column order of the ``bots`` table."""
    llm, webhook = b.llm, b.webhook
    return (
        b.id,
        b.org_id,
        b.name,
        b.kind,
        b.confidence_threshold,
        b.unknown_answer,
        b.handoff_after,
        _json_list(to, b.handoff_phrases),
        b.fallback_answer,
        to.flag(b.handoff_on_failure),
        b.timeout_seconds,
        None if llm is None else llm.base_url,
        None if llm is None else llm.model,
        None if llm is None else llm.system_prompt,
        None if llm is None else llm.api_key,
        None if webhook is None else webhook.url,
        None if webhook is None else webhook.secret,
        to.time(b.created_at),
        to.time(b.updated_at),
    )


def webhook_endpoint(e: WebhookEndpoint, to: Encoding) -> tuple[Any, ...]:
    """In the column order of ``create_webhook_endpoint``'s ``INSERT``."""
    return (
        e.id,
        e.org_id,
        e.url,
        e.kind,
        e.description,
        _json_list(to, e.event_types),
        _secrets(to, e.secrets),
        to.flag(e.fifo),
        e.status,
        e.paused_reason,
        to.time_or_none(e.failing_since),
        to.time(e.created_at),
        to.time(e.updated_at),
    )


def outbox_item(i: OutboxItem, at: datetime, to: Encoding) -> tuple[Any, ...]:
    """A new outbox row (a fresh delivery id, written ``at``), in the column order of the
    outbox ``INSERT``; the payload is stored as the bytes that will be sent."""
    return (
        f"dlv_{uuid.uuid4().hex}",
        i.message_id,
        i.org_id,
        i.target,
        i.event_type,
        orjson.dumps(i.payload),
        i.endpoint_id,
        i.widget_id,
        i.conversation_id,
        i.seq,
        i.fifo_key,
        _receiver(i),
        to.time(i.due_at),
        to.time(at),
    )


def _receiver(i: OutboxItem) -> str | None:
    """Who an outbox row is sent to, for fair claims: its webhook endpoint, its widget's
    live-agent platform, or its webhook bot; None for a timer, which sends nothing."""
    if i.target == "endpoint":
        return i.endpoint_id
    if i.target == "live_agent":
        return i.widget_id
    if i.target == "bot":
        return i.bot_id
    return None


# -- updates ------------------------------------------------------------------------------

_Column = Callable[[Encoding, Any], Any]


def _plain(to: Encoding, value: Any) -> Any:
    return value


def _json(to: Encoding, value: Any) -> Any:
    return to.json(value)


def _json_list(to: Encoding, value: Iterable[str]) -> Any:
    return to.json(list(value))


def _flag(to: Encoding, value: bool) -> Any:
    return to.flag(value)


def _time_or_none(to: Encoding, value: datetime | None) -> Any:
    return to.time_or_none(value)


def _secrets(to: Encoding, value: Iterable[tuple[str, datetime | None]]) -> Any:
    return to.json([[secret, to.json_time(expires)] for secret, expires in value])


#: Widget fields ``update_widget`` may change, with how each is stored.
WIDGET_UPDATES: Mapping[str, _Column] = {
    "name": _plain,
    "allowed_origins": _json_list,
    "messages_per_minute": _plain,
    "live_agent_endpoint_url": _plain,
    "bot_settings": _json,
    "live_agent_escalate_after": _plain,
    "live_agent_timeout": _plain,
    "live_agent_fallback": _plain,
    "live_agent_secret": _plain,
    "appearance": _json,
    "identity_required": _flag,
    "identity_secret": _plain,
    "bot_id": _plain,
}

#: Bot fields ``update_bot`` may change (a whole ``Bot`` minus its id, org and creation).
BOT_UPDATES: frozenset[str] = frozenset(
    {
        "name",
        "kind",
        "confidence_threshold",
        "unknown_answer",
        "handoff_after",
        "handoff_phrases",
        "fallback_answer",
        "handoff_on_failure",
        "timeout_seconds",
        "llm",
        "webhook",
    }
)

#: Agent fields ``update_agent`` may change, with how each is stored.
AGENT_UPDATES: Mapping[str, _Column] = {
    "name": _plain,
    "email": _plain,
    "status": _plain,
    "role": _plain,
}

#: Endpoint fields ``update_webhook_endpoint`` may change, with how each is stored.
ENDPOINT_UPDATES: Mapping[str, _Column] = {
    "url": _plain,
    "description": _plain,
    "event_types": _json_list,
    "fifo": _flag,
    "status": _plain,
    "paused_reason": _plain,
    "failing_since": _time_or_none,
    "secrets": _secrets,
}


def widget_updates(updates: Mapping[str, Any], to: Encoding) -> dict[str, Any]:
    """``updates`` as stored, in the order given; RuntimeError for a field it may not change."""
    return _encode("update_widget", WIDGET_UPDATES, updates, to)


def agent_updates(updates: Mapping[str, Any], to: Encoding) -> dict[str, Any]:
    """As ``widget_updates``, for ``update_agent``."""
    return _encode("update_agent", AGENT_UPDATES, updates, to)


def endpoint_updates(updates: Mapping[str, Any], to: Encoding) -> dict[str, Any]:
    """As ``widget_updates``, for ``update_webhook_endpoint``."""
    return _encode("update_webhook_endpoint", ENDPOINT_UPDATES, updates, to)


def bot_updates(current: Bot, updates: Mapping[str, Any], at: datetime) -> Bot:
    """``current`` with ``updates`` applied and ``updated_at`` set; RuntimeError for a field
    ``update_bot`` may not change. Backends write the whole row back."""
    unknown = set(updates) - BOT_UPDATES
    if unknown:
        raise RuntimeError(f"update_bot cannot change {sorted(unknown)}")
    return dataclasses.replace(current, **updates, updated_at=at)


def _encode(
    method: str, allowed: Mapping[str, _Column], updates: Mapping[str, Any], to: Encoding
) -> dict[str, Any]:
    unknown = set(updates) - set(allowed)
    if unknown:
        raise RuntimeError(f"{method} cannot change {sorted(unknown)}")
    return {name: allowed[name](to, value) for name, value in updates.items()}
