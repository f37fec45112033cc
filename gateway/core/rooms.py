"""Room names: the channels events travel on, between nodes and to sockets.

- ``conv:{conversation_id}``: every event of one conversation, in ``seq`` order.
- ``inbox:{org_id}``: ``conversation.created`` and ``conversation.updated`` of an org, for
  agent dashboards.
"""

from __future__ import annotations

__all__ = ["conversation_channel", "inbox_channel"]


def conversation_channel(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def inbox_channel(org_id: str) -> str:
    return f"inbox:{org_id}"
