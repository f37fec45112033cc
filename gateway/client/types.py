"""The gateway's JSON objects as the client receives them (docs/api.md, docs/protocol.md).

TypedDicts: they are the decoded JSON itself, so a field the gateway adds later is kept, only
not typed.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["Attachment", "Conversation", "Hello", "JSONObject", "Message", "ResumeOutcome"]

#: Decoded JSON.
JSONObject = dict[str, Any]


class Attachment(TypedDict, total=False):
    url: str
    mime: str
    size: int
    sha256: str
    name: str
    source_url: str


class Message(TypedDict):
    id: str
    conversation_id: str
    seq: int
    role: str
    sender_id: str | None
    content: str
    attachments: list[Attachment]
    metadata: JSONObject
    client_message_id: str | None
    created_at: str


class Conversation(TypedDict):
    id: str
    org_id: str
    widget_id: str | None
    contact_id: str | None
    status: str
    handler: str
    epoch: int
    assignee_id: str | None
    created_at: str
    updated_at: str
    resolved_at: str | None
    ended_at: str | None
    live_agent_handoff_at: str | None
    first_response_at: str | None
    last_seq: int
    metadata: JSONObject
    channel: str


class ResumeOutcome(TypedDict, total=False):
    ok: bool
    last_seq: int
    error: JSONObject


class Hello(TypedDict):
    """The ``hello`` reply: the session, and the outcome of each resumed conversation."""

    session_id: str
    node: str
    principal: JSONObject
    resume: dict[str, ResumeOutcome]
