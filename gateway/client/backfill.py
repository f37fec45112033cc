"""Backfill of a gap over REST (the JavaScript SDK's ``backfill.ts``, the same two steps).

The REST history is of messages (``GET /v1/conversations/{id}/messages?after_seq=``), but the
event log also numbers conversation changes, which no REST page lists. So:

1. the messages in the gap, paged, each as the ``new_message`` frame it was;
2. the seqs still missing were conversation changes: the conversation is read
   (``GET /v1/conversations/{id}``) and, when it differs from the one the client knew, one
   ``conversation.updated`` is made at the last missing seq with ``changes`` from the
   difference (``[known, now]`` per field; empty when no state was known). The other missing
   seqs hand out nothing.
"""

from __future__ import annotations

from typing import Any

from gateway.client.events import event_frame
from gateway.client.rest import MAX_PAGE, RestClient
from gateway.client.seqlog import Gap
from gateway.client.types import Conversation, JSONObject

__all__ = ["backfill"]

#: Fields that change with every event, left out of a made-up diff.
_NOISE = frozenset({"updated_at", "last_seq"})


async def backfill(
    rest: RestClient, conversation_id: str, gap: Gap, known: Conversation | None
) -> list[tuple[int, JSONObject | None]]:
    """Entries for ``SeqLog.fill``: every seq of the gap, with its frame or ``None``."""
    entries: list[tuple[int, JSONObject | None]] = []
    covered: set[int] = set()
    after = gap.after_seq
    while True:
        page = await rest.list_messages(conversation_id, after_seq=after, limit=MAX_PAGE)
        for message in page["data"]:
            if gap.after_seq < message["seq"] < gap.before_seq:
                entries.append((message["seq"], event_frame(message)))
                covered.add(message["seq"])
        following = page["next_after_seq"]
        if not page["has_more"] or following <= after or following >= gap.before_seq - 1:
            break
        after = following
    holes = [s for s in range(gap.after_seq + 1, gap.before_seq) if s not in covered]
    if not holes:
        return entries
    conversation = await rest.get_conversation(conversation_id)
    changes = _diff(known, conversation)
    for seq in holes:
        if seq == holes[-1] and (known is None or changes):
            data = {"conversation": conversation, "changes": changes}
            frame = {
                "op": "event",
                "event": "conversation.updated",
                "conversation_id": conversation_id,
                "seq": seq,
                "data": data,
            }
            entries.append((seq, frame))
        else:
            entries.append((seq, None))
    return entries


def _diff(known: Conversation | None, now: Conversation) -> dict[str, list[Any]]:
    if known is None:
        return {}
    before: dict[str, Any] = dict(known)
    return {
        name: [before.get(name), value]
        for name, value in now.items()
        if name not in _NOISE and before.get(name) != value
    }
