"""Models on the wire: ``to_wire`` and stored events write every instant in the one form."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from protocol.events import ConversationUpdated
from protocol.states import Status
from storage import records
from storage.execution import execute
from storage.models import ConversationChange, Plan, to_wire
from tests.contracts.rows import conversation_row

WHOLE_SECOND = datetime(2025, 12, 10, 19, 27, 28, tzinfo=UTC)
FINE = datetime(2025, 12, 10, 19, 27, 2, 941_567, tzinfo=UTC)


def test_to_wire_writes_every_instant_with_three_digits() -> None:
    """A whole second gets .000, microseconds are cut to milliseconds, null stays null, also
    inside lists and objects."""
    conversation = conversation_row("org-1", created_at=WHOLE_SECOND, updated_at=FINE)
    wire = to_wire(conversation)
    assert wire["created_at"] == "2025-12-10T19:27:28.000Z"
    assert wire["updated_at"] == "2025-12-10T19:27:02.941Z"
    assert wire["resolved_at"] is None
    nested = to_wire({"data": [conversation], "at": WHOLE_SECOND})
    assert nested["data"][0]["created_at"] == "2025-12-10T19:27:28.000Z"
    assert nested["at"] == "2025-12-10T19:27:28.000Z"
    assert to_wire(FINE) == "2025-12-10T19:27:02.941Z"


def test_to_wire_leaves_metadata_text_as_given() -> None:
    """Strings in the caller's metadata are data, not instants: returned verbatim, and the
    model itself is not changed."""
    metadata = {"sent_at": "2025-12-10T19:27:28+02:00", "nested": {"when": "2025-12-10T19:27Z"}}
    conversation = conversation_row("org-1", metadata=metadata)
    assert to_wire(conversation)["metadata"] == metadata
    assert conversation.metadata == {
        "sent_at": "2025-12-10T19:27:28+02:00",
        "nested": {"when": "2025-12-10T19:27Z"},
    }


def test_execute_writes_changed_instants_in_the_wire_form() -> None:
    """A change's diff and snapshot carry the same three-digit form as everything else."""
    conversation = conversation_row("org-1", status=Status.OPEN)
    done = execute(
        conversation,
        Plan((ConversationChange({"status": Status.RESOLVED, "resolved_at": WHOLE_SECOND}),)),
        WHOLE_SECOND,
    )
    (event,) = done.events
    assert isinstance(event, ConversationUpdated)
    assert event.changes["resolved_at"] == [None, "2025-12-10T19:27:28.000Z"]
    assert event.conversation["resolved_at"] == "2025-12-10T19:27:28.000Z"
    assert event.conversation["updated_at"] == "2025-12-10T19:27:28.000Z"


def test_stored_changes_of_an_earlier_form_are_replayed_in_the_wire_form() -> None:
    """Change rows stored before the form was fixed (six digits, none on a whole second) read
    back as the same instants in today's form; other fields are untouched."""
    snapshot = to_wire(conversation_row("org-1", status=Status.RESOLVED))
    snapshot.update(
        created_at="2025-12-10T19:27:15.260000Z",
        updated_at="2025-12-10T19:27:28Z",
        resolved_at="2025-12-10T19:27:28Z",
        metadata={"sent_at": "2025-12-10T19:27:28Z"},
    )
    stored = {
        "conversation": snapshot,
        "changes": {"status": ["open", "resolved"], "resolved_at": [None, "2025-12-10T19:27:28Z"]},
    }
    row = {"seq": 3, "data": orjson.dumps(stored).decode()}
    (event,) = records.events(snapshot["id"], [], [row], limit=10)
    assert isinstance(event, ConversationUpdated)
    assert event.conversation["created_at"] == "2025-12-10T19:27:15.260Z"
    assert event.conversation["updated_at"] == "2025-12-10T19:27:28.000Z"
    assert event.conversation["resolved_at"] == "2025-12-10T19:27:28.000Z"
    assert event.conversation["ended_at"] is None
    assert event.conversation["metadata"] == {"sent_at": "2025-12-10T19:27:28Z"}
    assert event.changes == {
        "status": ["open", "resolved"],
        "resolved_at": [None, "2025-12-10T19:27:28.000Z"],
    }
