"""Row factories and plan helpers shared by the store contract and other storage tests."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from gateway.core.lifecycle import new_conversation
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Role
from storage.base import Decide, Store
from storage.models import (
    Agent,
    ApiKey,
    Bot,
    Contact,
    Conversation,
    ConversationChange,
    NewMessage,
    Org,
    Plan,
    Widget,
    now,
)

__all__ = [
    "add_conversation",
    "add_org",
    "agent_row",
    "api_key_row",
    "bot_row",
    "contact_row",
    "conversation_row",
    "new_id",
    "not_found",
    "org_row",
    "plan_of",
    "refuse",
    "refuse_with",
    "visitor_says",
    "widget_row",
]

# -- rows ---------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def org_row(**fields: Any) -> Org:
    base = Org(id=new_id(), name="Acme", monthly_message_limit=None, created_at=now())
    return dataclasses.replace(base, **fields)


def api_key_row(org_id: str, **fields: Any) -> ApiKey:
    base = ApiKey(id=new_id(), org_id=org_id, name="ci", prefix="cgk_abcd", created_at=now())
    return dataclasses.replace(base, **fields)


def widget_row(org_id: str, **fields: Any) -> Widget:
    base = Widget(
        id=new_id(),
        org_id=org_id,
        name="Support",
        allowed_origins=("https://shop.example",),
        messages_per_minute=None,
        live_agent_endpoint_url=None,
        created_at=now(),
    )
    return dataclasses.replace(base, **fields)


def bot_row(org_id: str, **fields: Any) -> Bot:
    at = now()
    base = Bot(
        id=new_id(),
        org_id=org_id,
        name="Helper",
        kind="knowledge",
        confidence_threshold=0.3,
        unknown_answer="I don't know that yet.",
        handoff_after=2,
        handoff_phrases=("human", "talk to someone"),
        fallback_answer="Sorry, something went wrong.",
        handoff_on_failure=True,
        timeout_seconds=20,
        created_at=at,
        updated_at=at,
    )
    return dataclasses.replace(base, **fields)


def agent_row(org_id: str, **fields: Any) -> Agent:
    base = Agent(id=new_id(), org_id=org_id, name="Ada", email="ada@acme.example", created_at=now())
    return dataclasses.replace(base, **fields)


def contact_row(org_id: str, **fields: Any) -> Contact:
    base = Contact(
        id=new_id(),
        org_id=org_id,
        widget_id=None,
        external_id=None,
        name="Vera",
        email=None,
        metadata={},
        created_at=now(),
    )
    return dataclasses.replace(base, **fields)


def conversation_row(org_id: str, **fields: Any) -> Conversation:
    base = new_conversation(org_id=org_id, widget_id=None, contact_id=None, metadata={}, at=now())
    return dataclasses.replace(base, **fields)


async def add_org(store: Store, **fields: Any) -> Org:
    org = org_row(**fields)
    await store.create_org(org)
    return org


async def add_conversation(store: Store, org_id: str, **fields: Any) -> Conversation:
    conversation = conversation_row(org_id, **fields)
    await store.create_conversation(conversation)
    return conversation


def visitor_says(content: str = "hello", **fields: Any) -> NewMessage:
    return NewMessage(role=Role.VISITOR, sender_id="visitor-1", content=content, **fields)


def plan_of(*steps: NewMessage | ConversationChange) -> Decide:
    """A ``decide`` that ignores the conversation and returns ``steps``."""
    return lambda conversation: Plan(steps)


def refuse(error: GatewayError) -> Decide:
    def decide(conversation: Conversation) -> Plan:
        raise error

    return decide


async def refuse_with(call: Any) -> GatewayError:
    """The ``GatewayError`` that awaiting ``call`` raises."""
    with pytest.raises(GatewayError) as info:
        await call
    return info.value


async def not_found(call: Any) -> None:
    with pytest.raises(GatewayError) as info:
        await call
    assert info.value.code is ErrorCode.NOT_FOUND
