"""Records (database rows) to models and stored events, for every backend.

A row is anything read by column name (``sqlite3.Row``, ``asyncpg.Record``).
Timestamps may come as RFC 3339 text (SQLite) or as ``datetime`` (PostgreSQL); JSON columns as
text or already decoded. JSON columns here always hold objects or arrays, never bare strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Protocol, get_args, get_type_hints

import orjson

from protocol.encoding import format_instant
from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status
from storage.base import StoredEvent
from storage.models import (
    AccountToken,
    Agent,
    AgentSession,
    ApiKey,
    Article,
    Bot,
    BotLlm,
    BotWebhook,
    Contact,
    Conversation,
    Delivery,
    DeliveryAttempt,
    IdempotencyRecord,
    Message,
    NodeLease,
    Org,
    SearchHit,
    StoredFile,
    WebhookEndpoint,
    Widget,
    to_wire,
)

__all__ = [
    "account_token",
    "agent",
    "agent_session",
    "api_key",
    "bot",
    "article",
    "contact",
    "conversation",
    "delivery",
    "delivery_attempt",
    "events",
    "idempotency",
    "message",
    "search_hit",
    "node",
    "org",
    "stored_file",
    "timestamp",
    "webhook_endpoint",
    "widget",
]


class Row(Protocol):
    """Any row that can be read by column name."""

    def __getitem__(self, column: str) -> Any: ...


def timestamp(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _maybe_timestamp(value: str | datetime | None) -> datetime | None:
    return None if value is None else timestamp(value)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def org(r: Row) -> Org:
    return Org(
        id=str(r["id"]),
        name=r["name"],
        monthly_message_limit=r["monthly_message_limit"],
        created_at=timestamp(r["created_at"]),
    )


def stored_file(r: Row) -> StoredFile:
    return StoredFile(
        org_id=str(r["org_id"]),
        sha256=r["sha256"],
        mime=r["mime"],
        size=int(r["size"]),
        created_at=timestamp(r["created_at"]),
    )


def api_key(r: Row) -> ApiKey:
    return ApiKey(
        id=r["id"],
        org_id=r["org_id"],
        name=r["name"],
        prefix=r["prefix"],
        created_at=timestamp(r["created_at"]),
        revoked_at=_maybe_timestamp(r["revoked_at"]),
    )


def widget(r: Row) -> Widget:
    return Widget(
        id=r["id"],
        org_id=r["org_id"],
        name=r["name"],
        allowed_origins=tuple(_json(r["allowed_origins"])),
        messages_per_minute=r["messages_per_minute"],
        live_agent_endpoint_url=r["live_agent_endpoint_url"],
        bot_settings=_json(r["bot_settings"]),
        created_at=timestamp(r["created_at"]),
        live_agent_escalate_after=r["live_agent_escalate_after"],
        live_agent_timeout=r["live_agent_timeout"],
        live_agent_fallback=r["live_agent_fallback"],
        live_agent_secret=r["live_agent_secret"],
        appearance=_json(r["appearance"]),
        identity_required=bool(r["identity_required"]),
        identity_secret_set=r["identity_secret"] is not None,
        bot_id=None if r["bot_id"] is None else str(r["bot_id"]),
    )


def bot(r: Row) -> Bot:
    llm = None
    if r["llm_model"] is not None:
        llm = BotLlm(
            base_url=r["llm_base_url"],
            model=r["llm_model"],
            system_prompt=r["llm_system_prompt"],
            api_key=r["llm_api_key"],
        )
    webhook = None
    if r["webhook_url"] is not None:
        webhook = BotWebhook(url=r["webhook_url"], secret=r["webhook_secret"])
    return Bot(
        id=str(r["id"]),
        org_id=str(r["org_id"]),
        name=r["name"],
        kind=r["kind"],
        confidence_threshold=float(r["confidence_threshold"]),
        unknown_answer=r["unknown_answer"],
        handoff_after=r["handoff_after"],
        handoff_phrases=tuple(_json(r["handoff_phrases"])),
        fallback_answer=r["fallback_answer"],
        handoff_on_failure=bool(r["handoff_on_failure"]),
        timeout_seconds=r["timeout_seconds"],
        created_at=timestamp(r["created_at"]),
        updated_at=timestamp(r["updated_at"]),
        llm=llm,
        webhook=webhook,
    )


def agent(r: Row) -> Agent:
    return Agent(
        id=r["id"],
        org_id=r["org_id"],
        name=r["name"],
        email=r["email"],
        created_at=timestamp(r["created_at"]),
        status=r["status"],
        role=r["role"],
    )


def account_token(r: Row) -> AccountToken:
    return AccountToken(
        token_hash=r["token_hash"],
        purpose=r["purpose"],
        org_id=r["org_id"],
        created_at=timestamp(r["created_at"]),
        expires_at=timestamp(r["expires_at"]),
        email=r["email"],
        role=r["role"],
        name=r["name"],
        agent_id=r["agent_id"],
    )


def agent_session(r: Row) -> AgentSession:
    return AgentSession(
        id=r["id"],
        token_hash=r["token_hash"],
        agent_id=r["agent_id"],
        org_id=r["org_id"],
        created_at=timestamp(r["created_at"]),
        last_seen_at=timestamp(r["last_seen_at"]),
        expires_at=timestamp(r["expires_at"]),
        address=r["address"],
        user_agent=r["user_agent"],
    )


def contact(r: Row) -> Contact:
    return Contact(
        id=r["id"],
        org_id=r["org_id"],
        widget_id=r["widget_id"],
        external_id=r["external_id"],
        name=r["name"],
        email=r["email"],
        metadata=_json(r["metadata"]),
        created_at=timestamp(r["created_at"]),
    )


def conversation(r: Row) -> Conversation:
    return Conversation(
        id=r["id"],
        org_id=r["org_id"],
        widget_id=r["widget_id"],
        contact_id=r["contact_id"],
        status=Status(r["status"]),
        handler=Handler(r["handler"]),
        epoch=r["epoch"],
        assignee_id=r["assignee_id"],
        created_at=timestamp(r["created_at"]),
        updated_at=timestamp(r["updated_at"]),
        resolved_at=_maybe_timestamp(r["resolved_at"]),
        ended_at=_maybe_timestamp(r["ended_at"]),
        live_agent_handoff_at=_maybe_timestamp(r["live_agent_handoff_at"]),
        first_response_at=_maybe_timestamp(r["first_response_at"]),
        last_seq=r["last_seq"],
        metadata=_json(r["metadata"]),
        channel=r["channel"],
        bot_id=None if r["bot_id"] is None else str(r["bot_id"]),
    )


def message(r: Row) -> Message:
    return Message(
        id=r["id"],
        conversation_id=r["conversation_id"],
        seq=r["seq"],
        role=Role(r["role"]),
        sender_id=r["sender_id"],
        content=r["content"],
        attachments=tuple(_json(r["attachments"])),
        metadata=_json(r["metadata"]),
        client_message_id=r["client_message_id"],
        created_at=timestamp(r["created_at"]),
        private=bool(r["private"]),
    )


#: The most characters of a matching message a search hit carries.
MATCH_TEXT_CHARS = 300


def search_hit(r: Row) -> SearchHit:
    """A search row (a conversation's columns, then the match's) as a hit."""
    found = conversation(r)
    if r["contact_hit"]:
        text = " ".join(part for part in (r["contact_name"], r["contact_email"]) if part)
        return SearchHit(found, "contact", text)
    content: str = r["hit_content"]
    return SearchHit(
        found, "message", content[:MATCH_TEXT_CHARS], r["hit_seq"], bool(r["hit_private"])
    )


def idempotency(r: Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        request_hash=r["request_hash"],
        status=r["status"],
        headers=_json(r["headers"]),
        body=bytes(r["body"]),
        created_at=timestamp(r["created_at"]),
    )


def node(r: Row) -> NodeLease:
    return NodeLease(
        id=r["id"],
        host=r["host"],
        pid=r["pid"],
        broker=r["broker"],
        started_at=timestamp(r["started_at"]),
        seen_at=timestamp(r["seen_at"]),
    )


def article(r: Row) -> Article:
    return Article(
        id=str(r["id"]),
        org_id=str(r["org_id"]),
        title=r["title"],
        body=r["body"],
        url=r["url"],
        source=r["source"],
        created_at=timestamp(r["created_at"]),
        updated_at=timestamp(r["updated_at"]),
    )


def webhook_endpoint(r: Row) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=str(r["id"]),
        org_id=str(r["org_id"]),
        url=r["url"],
        kind=r["kind"],
        description=r["description"],
        event_types=tuple(_json(r["event_types"])),
        secrets=tuple(
            (secret, _maybe_timestamp(expires)) for secret, expires in _json(r["secrets"])
        ),
        fifo=bool(r["fifo"]),
        status=r["status"],
        paused_reason=r["paused_reason"],
        failing_since=_maybe_timestamp(r["failing_since"]),
        created_at=timestamp(r["created_at"]),
        updated_at=timestamp(r["updated_at"]),
    )


def live_secrets(stored: Any, at: datetime) -> tuple[str, ...]:
    """The secrets of a stored ``secrets`` column that have not expired at ``at``."""
    return tuple(
        secret for secret, expires in _json(stored) if expires is None or timestamp(expires) > at
    )


def delivery(r: Row, at: datetime | None = None) -> Delivery:
    """An outbox row; with ``at`` (a claim), also its target's url and live secrets."""
    url: str | None = None
    secrets: tuple[str, ...] = ()
    if at is not None:
        if r["target"] == "endpoint" and r["endpoint_url"] is not None:
            url, secrets = r["endpoint_url"], live_secrets(r["endpoint_secrets"], at)
        elif r["target"] == "live_agent" and r["widget_url"] is not None:
            url = r["widget_url"]
            secrets = (r["widget_secret"],) if r["widget_secret"] else ()
        elif r["target"] == "bot" and r["bot_url"] is not None:
            url = r["bot_url"]
            secrets = (r["bot_secret"],) if r["bot_secret"] else ()
    payload = r["payload"]
    return Delivery(
        id=r["id"],
        message_id=r["message_id"],
        org_id=str(r["org_id"]),
        target=r["target"],
        event_type=r["event_type"],
        payload=payload.encode() if isinstance(payload, str) else bytes(payload),
        endpoint_id=None if r["endpoint_id"] is None else str(r["endpoint_id"]),
        widget_id=None if r["widget_id"] is None else str(r["widget_id"]),
        conversation_id=None if r["conversation_id"] is None else str(r["conversation_id"]),
        seq=r["seq"],
        status=r["status"],
        attempts=r["attempts"],
        next_attempt_at=timestamp(r["next_attempt_at"]),
        last_status=r["last_status"],
        last_error=r["last_error"],
        created_at=timestamp(r["created_at"]),
        finished_at=_maybe_timestamp(r["finished_at"]),
        fifo_key=r["fifo_key"],
        url=url,
        secrets=secrets,
    )


def delivery_attempt(r: Row) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=r["delivery_id"],
        attempt=r["attempt"],
        at=timestamp(r["at"]),
        status_code=r["status_code"],
        error=r["error"],
        duration_ms=r["duration_ms"],
    )


def events(
    conversation_id: str, messages: Iterable[Row], changes: Iterable[Row], limit: int
) -> list[StoredEvent]:
    """A conversation's stored events, in seq order and at most ``limit``, from its message
    rows and its change rows (``seq``, ``data``), each read after one seq, up to ``limit``."""
    merged: list[StoredEvent] = [
        MessageCreated(conversation_id, r["seq"], to_wire(message(r))) for r in messages
    ]
    for r in changes:
        data = _json(r["data"])
        snapshot, diff = _current_times(data["conversation"], data["changes"])
        merged.append(ConversationUpdated(conversation_id, r["seq"], snapshot, diff))
    merged.sort(key=lambda e: e.seq)
    return merged[:limit]


#: The conversation fields that hold instants.
_CONVERSATION_TIMES: Final = frozenset(
    name
    for name, kind in get_type_hints(Conversation).items()
    if kind is datetime or datetime in get_args(kind)
)


def _current_times(
    snapshot: dict[str, Any], diff: dict[str, list[Any]]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A stored change's instants in today's wire form.

    Change rows keep the text they were stored with, and rows stored before the wire form
    was fixed carry another (``...:15.260Z``, ``...:28Z``); the instant is the same.
    """
    for name in _CONVERSATION_TIMES:
        if snapshot.get(name) is not None:
            snapshot[name] = _instant_text(snapshot[name])
        if name in diff:
            diff[name] = [None if v is None else _instant_text(v) for v in diff[name]]
    return snapshot, diff


def _instant_text(text: str) -> str:
    return format_instant(datetime.fromisoformat(text))
