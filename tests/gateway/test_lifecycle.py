"""The lifecycle rules, as pure decisions (no I/O)."""

from __future__ import annotations

import pytest

from gateway.core.lifecycle import TAKEOVER_MARKER, TRANSITIONS, plan_message, plan_update
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Handler, Role, Status
from storage.execution import execute
from storage.models import Conversation, ConversationChange, NewMessage, now
from tests.contracts.rows import conversation_row

AT = now()


def conversation(**fields: object) -> Conversation:
    return conversation_row("o1", contact_id="visitor-1", last_seq=3, **fields)


def message(role: Role, sender: str | None = "someone") -> NewMessage:
    return NewMessage(role=role, sender_id=sender, content="hello")


def code_of(call: object) -> ErrorCode:
    with pytest.raises(GatewayError) as info:
        call()  # type: ignore[operator]
    return info.value.code


def test_first_human_reply_takes_over_with_marker_and_epoch() -> None:
    """An agent answering a waiting conversation opens it, bumps epoch, adds the marker."""
    conv = conversation(status=Status.AGENT_REQUESTED)
    done = execute(conv, plan_message(conv, message(Role.AGENT, "a1"), epoch=None, at=AT), AT)
    change, marker, reply = done.events
    assert change.name == "conversation.updated"
    assert change.changes["status"] == ["agent_requested", "open"]
    assert change.changes["handler"] == ["bot", "agent"]
    assert change.changes["epoch"] == [0, 1]
    assert change.changes["assignee_id"] == [None, "a1"]
    assert "first_response_at" in change.changes
    assert marker.data["role"] == "system" and marker.data["content"] == TAKEOVER_MARKER
    assert reply.data["role"] == "agent"
    assert [e.seq for e in done.events] == [4, 5, 6]
    assert done.conversation.first_response_at == AT


def test_bot_cannot_speak_after_takeover() -> None:
    """Once a human handles the conversation the bot gets control_lost, whatever its epoch."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT, epoch=1)
    for epoch in (None, 0, 1):
        assert code_of(lambda e=epoch: plan_message(conv, message(Role.BOT), epoch=e, at=AT)) == (
            ErrorCode.CONTROL_LOST
        )


def test_stale_epoch_is_control_lost_for_any_responder() -> None:
    """A write carrying an old epoch is refused with the current epoch in details."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT, epoch=2)
    with pytest.raises(GatewayError) as info:
        plan_message(conv, message(Role.AGENT), epoch=1, at=AT)
    assert info.value.code is ErrorCode.CONTROL_LOST
    assert info.value.details == {"epoch": 2}
    assert plan_message(conv, message(Role.AGENT), epoch=2, at=AT).steps


@pytest.mark.parametrize(
    "status", [Status.BOT_ACTIVE, Status.RESOLVED, Status.CLOSED, Status.ARCHIVED]
)
def test_humans_reply_only_in_open_and_agent_requested(status: Status) -> None:
    """Any other status answers invalid_state to an agent or a live agent."""
    conv = conversation(status=status)
    for role in (Role.AGENT, Role.LIVE_AGENT):
        assert code_of(lambda r=role: plan_message(conv, message(r), epoch=None, at=AT)) == (
            ErrorCode.INVALID_STATE
        )


def test_visitor_and_bot_statuses() -> None:
    """Visitors write until the conversation ends; the bot only while it handles it."""
    for status in (Status.BOT_ACTIVE, Status.AGENT_REQUESTED, Status.OPEN):
        conv = conversation(status=status)
        assert plan_message(conv, message(Role.VISITOR), epoch=None, at=AT).steps
    for status in (Status.RESOLVED, Status.CLOSED, Status.ARCHIVED):
        conv = conversation(status=status)
        assert code_of(
            lambda c=conv: plan_message(c, message(Role.VISITOR), epoch=None, at=AT)
        ) == (ErrorCode.INVALID_STATE)
    assert plan_message(conversation(), message(Role.BOT), epoch=0, at=AT).steps
    closed = conversation(status=Status.CLOSED)
    assert code_of(lambda: plan_message(closed, message(Role.BOT), epoch=None, at=AT)) == (
        ErrorCode.INVALID_STATE
    )


def test_second_human_reply_only_appends() -> None:
    """After the first response, an agent reply is one message and no status event."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT, epoch=1, first_response_at=AT)
    plan = plan_message(conv, message(Role.AGENT), epoch=None, at=AT)
    assert len(plan.steps) == 1 and isinstance(plan.steps[0], NewMessage)


def test_first_reply_in_open_stamps_first_response() -> None:
    """A conversation opened by PATCH gets first_response_at from its first human reply."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT, epoch=1)
    change, reply = plan_message(conv, message(Role.AGENT), epoch=None, at=AT).steps
    assert isinstance(change, ConversationChange)
    assert change.updates == {"first_response_at": AT}
    assert isinstance(reply, NewMessage)


def test_live_agent_replacing_agent_bumps_epoch_without_marker() -> None:
    """A different kind of human taking the conversation changes handler and epoch."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT, epoch=1, first_response_at=AT)
    change, _ = plan_message(conv, message(Role.LIVE_AGENT), epoch=None, at=AT).steps
    assert isinstance(change, ConversationChange)
    assert change.updates == {"handler": Handler.LIVE_AGENT, "epoch": 2}


def test_update_cannot_set_bot_active() -> None:
    """bot_active is where conversations start; the API can never set it."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT)
    with pytest.raises(GatewayError) as info:
        plan_update(
            conv, status=Status.BOT_ACTIVE, assignee=None, epoch=None, actor_agent_id=None, at=AT
        )
    assert info.value.code is ErrorCode.VALIDATION_ERROR


@pytest.mark.parametrize("start", list(Status))
@pytest.mark.parametrize("target", [s for s in Status if s is not Status.BOT_ACTIVE])
def test_update_follows_transition_table(start: Status, target: Status) -> None:
    """Every (from, to) pair is allowed exactly when the table lists it."""
    handler = Handler.BOT if start in (Status.BOT_ACTIVE, Status.AGENT_REQUESTED) else Handler.AGENT
    conv = conversation(status=start, handler=handler)

    def update() -> object:
        return plan_update(
            conv, status=target, assignee=None, epoch=None, actor_agent_id=None, at=AT
        )

    if start is target:
        assert update() == plan_update(
            conv, status=None, assignee=None, epoch=None, actor_agent_id=None, at=AT
        )
    elif (start, target) in TRANSITIONS:
        done = execute(conv, update(), AT)  # type: ignore[arg-type]
        assert done.conversation.status is target
        assert done.events[0].changes["status"] == [start.value, target.value]
    else:
        assert code_of(update) is ErrorCode.INVALID_STATE


def test_update_stamps_resolved_ended_and_reopen_clears() -> None:
    """resolved stamps resolved_at, closed stamps ended_at, reopening clears both."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT)
    resolved = execute(
        conv,
        plan_update(
            conv, status=Status.RESOLVED, assignee=None, epoch=None, actor_agent_id=None, at=AT
        ),
        AT,
    ).conversation
    assert resolved.resolved_at == AT
    closed = execute(
        resolved,
        plan_update(
            resolved, status=Status.OPEN, assignee=None, epoch=None, actor_agent_id=None, at=AT
        ),
        AT,
    ).conversation
    assert closed.status is Status.OPEN and closed.resolved_at is None
    assert closed.handler is Handler.AGENT, "reopening never hands the conversation back to the bot"


def test_patch_open_from_agent_requested_is_a_takeover() -> None:
    """Claiming a waiting conversation by PATCH also adds the marker and fences the bot."""
    conv = conversation(status=Status.AGENT_REQUESTED)
    done = execute(
        conv,
        plan_update(
            conv, status=Status.OPEN, assignee=None, epoch=None, actor_agent_id="a7", at=AT
        ),
        AT,
    )
    assert done.conversation.handler is Handler.AGENT and done.conversation.epoch == 1
    assert done.conversation.assignee_id == "a7"
    assert done.messages[0].content == TAKEOVER_MARKER
    assert done.conversation.first_response_at is None, "no human has answered yet"


def test_update_assignee_only_and_no_op() -> None:
    """Assigning changes one field; a request that changes nothing takes no seq."""
    conv = conversation(status=Status.OPEN, handler=Handler.AGENT)
    plan = plan_update(conv, status=None, assignee=("a2",), epoch=None, actor_agent_id=None, at=AT)
    assert execute(conv, plan, AT).events[0].changes == {"assignee_id": [None, "a2"]}
    same = plan_update(
        conv, status=Status.OPEN, assignee=(None,), epoch=None, actor_agent_id=None, at=AT
    )
    assert execute(conv, same, AT).events == ()
