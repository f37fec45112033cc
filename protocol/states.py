"""The vocabulary of a conversation: statuses, who handles it, and message roles."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Handler", "Role", "Status"]


class Status(StrEnum):
    """Conversation status; see the lifecycle in docs/protocol.md."""

    BOT_ACTIVE = "bot_active"
    AGENT_REQUESTED = "agent_requested"
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"
    ARCHIVED = "archived"


class Handler(StrEnum):
    """Who currently answers the visitor."""

    BOT = "bot"
    AGENT = "agent"
    LIVE_AGENT = "live_agent"


class Role(StrEnum):
    """The author of a message."""

    VISITOR = "visitor"
    AGENT = "agent"
    BOT = "bot"
    LIVE_AGENT = "live_agent"
    SYSTEM = "system"
