"""Commands: the frozen dataclasses every transport builds, and their schemas."""

from __future__ import annotations

import dataclasses
import typing
from uuid import UUID

import pytest
from msgspec import UNSET

from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.commands import (
    Attachment,
    ContactInput,
    CreateWidget,
    IssueToken,
    ListConversations,
    ListMessages,
    ReadEvents,
    SendMessage,
    StartConversation,
    UpdateConversation,
    UpdateWidget,
)
from protocol.errors import ProtocolError
from protocol.fields import MAX_CONTENT_CHARS
from protocol.states import Handler, Role, Status
from protocol.validation import parse
from tests.protocol.samples import AGENT, CONVERSATION

CID = UUID(CONVERSATION)


def _error(cls, payload):
    with pytest.raises(ProtocolError) as info:
        parse(cls, payload)
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    return info.value


def test_command_union_lists_every_command():
    """Every exported command class is a member of the Command union."""
    exported = {getattr(cmd, name) for name in cmd.__all__} - {
        cmd.Command,
        Attachment,
        ContactInput,
        cmd.Appearance,
    }
    assert set(typing.get_args(cmd.Command)) == exported


@pytest.mark.parametrize("cls", typing.get_args(cmd.Command))
def test_commands_are_frozen_slotted_dataclasses(cls):
    """Every command is a frozen dataclass with slots."""
    params = cls.__dataclass_params__
    assert params.frozen
    assert "__slots__" in vars(cls)


def test_command_cannot_be_changed():
    """Assigning to a command's field raises."""
    command = cmd.MarkRead(CID, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.seq = 2  # type: ignore[misc]


@pytest.mark.parametrize("content", ["", "   ", "\n\t"])
def test_send_message_needs_content_or_attachments_even_in_code(content):
    """Building a blank SendMessage directly raises, not only when parsed."""
    with pytest.raises(ValueError, match="a message needs content or attachments"):
        SendMessage(conversation_id=CID, content=content)


def test_send_message_content_limit_counts_characters():
    """MAX_CONTENT_CHARS counts characters, not UTF-8 bytes."""
    content = "😀" * MAX_CONTENT_CHARS
    assert parse(SendMessage, {"conversation_id": CONVERSATION, "content": content}).content == (
        content
    )
    error = _error(SendMessage, {"conversation_id": CONVERSATION, "content": content + "😀"})
    assert error.details == {"path": "$.content"}


def test_send_message_attachments_become_a_tuple_of_attachments():
    """Attachments parse into a tuple of Attachment, optional fields defaulting to None."""
    sent = parse(
        SendMessage,
        {"conversation_id": CONVERSATION, "attachments": [{"url": "http://example.com/f"}]},
    )
    assert sent.attachments == (Attachment(url="http://example.com/f"),)
    assert (sent.attachments[0].mime, sent.attachments[0].size) == (None, None)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://a", True),
        ("https://a.example/p?q=1#f", True),
        ("https://a/" + "x" * (2048 - len("https://a/")), True),
        ("https://a/" + "x" * (2049 - len("https://a/")), False),
        ("HTTPS://a", False),
        ("//a", False),
        ("data:text/plain,hi", False),
        (" https://a", False),
        ("/v1/files/" + "ab" * 32, True),
        ("/v1/files/" + "ab" * 32 + "\n", False),
        ("/v1/files/" + "AB" * 32, False),
        ("/v1/files/abc", False),
        ("/etc/passwd", False),
    ],
)
def test_attachment_url_must_be_http(url, ok):
    """Attachment URLs are http(s), without whitespace, at most 2048 characters, or a
    gateway-relative file URL (``/v1/files/{sha256}``, as uploads answer it)."""
    payload = {"conversation_id": CONVERSATION, "attachments": [{"url": url}]}
    if ok:
        assert parse(SendMessage, payload).attachments[0].url == url
    else:
        assert _error(SendMessage, payload).details == {"path": "$.attachments[0].url"}


@pytest.mark.parametrize(
    ("attachment", "path"),
    [
        pytest.param({"url": "https://example.com/a\n"}, "$.attachments[0].url", id="url"),
        pytest.param(
            {"url": "https://example.com/a", "sha256": "ab" * 32 + "\n"},
            "$.attachments[0].sha256",
            id="sha256",
        ),
    ],
)
def test_attachment_patterns_reject_a_trailing_newline(attachment, path):
    """A trailing newline does not slip past the url and sha256 patterns."""
    payload = {"conversation_id": CONVERSATION, "attachments": [attachment]}
    assert _error(SendMessage, payload).details == {"path": path}


def test_send_message_limits_metadata_keys():
    """Metadata holds at most 50 keys."""
    payload = {"conversation_id": CONVERSATION, "content": "x"}
    fifty = {str(i): i for i in range(50)}
    assert parse(SendMessage, {**payload, "metadata": fifty}).metadata == fifty
    error = _error(SendMessage, {**payload, "metadata": {**fifty, "50": 50}})
    assert error.details == {"path": "$.metadata"}


def test_send_message_client_message_id_limit():
    """client_message_id is 1 to 128 characters."""
    payload = {"conversation_id": CONVERSATION, "content": "x"}
    longest = "m" * 128
    assert parse(SendMessage, {**payload, "client_message_id": longest}).client_message_id == (
        longest
    )
    error = _error(SendMessage, {**payload, "client_message_id": longest + "m"})
    assert error.details == {"path": "$.client_message_id"}


@pytest.mark.parametrize("role", list(Role))
def test_send_message_accepts_every_role(role):
    """Every Role wire value parses into the enum."""
    payload = {"conversation_id": CONVERSATION, "content": "x", "role": role.value}
    assert parse(SendMessage, payload).role is role


def test_update_conversation_tells_null_from_absent():
    """assignee_id null (unassign) and assignee_id absent (unchanged) stay distinct."""
    absent = parse(UpdateConversation, {"conversation_id": CONVERSATION})
    null = parse(UpdateConversation, {"conversation_id": CONVERSATION, "assignee_id": None})
    given = parse(UpdateConversation, {"conversation_id": CONVERSATION, "assignee_id": AGENT})
    assert (absent.assignee_id, null.assignee_id, given.assignee_id) == (UNSET, None, UUID(AGENT))


@pytest.mark.parametrize("status", list(Status))
def test_update_conversation_accepts_every_status(status):
    """Every Status wire value parses into the enum."""
    parsed = parse(UpdateConversation, {"conversation_id": CONVERSATION, "status": status.value})
    assert parsed.status is status


def test_state_enums_wire_values():
    """Statuses, handlers and roles keep their lowercase wire values."""
    assert [s.value for s in Status] == [
        "bot_active",
        "agent_requested",
        "open",
        "resolved",
        "closed",
        "archived",
    ]
    assert [h.value for h in Handler] == ["bot", "agent", "live_agent"]
    assert [r.value for r in Role] == ["visitor", "agent", "bot", "live_agent", "system"]


def test_paging_commands_defaults():
    """Paging commands start at seq 0 with their documented page sizes."""
    assert parse(ListMessages, {"conversation_id": CONVERSATION}) == ListMessages(CID, 0, 50)
    assert parse(ReadEvents, {"conversation_id": CONVERSATION}) == ReadEvents(CID, 0, 200)
    assert parse(ListConversations, {}) == ListConversations(UNSET, 50, UNSET)


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_paging_limit_bounds(limit):
    """Page sizes are 1 to 200."""
    error = _error(ListMessages, {"conversation_id": CONVERSATION, "limit": limit})
    assert error.details == {"path": "$.limit"}


def test_issue_token_kind():
    """IssueToken defaults to an agent token and accepts only agent or bot."""
    assert parse(IssueToken, {}).kind == "agent"
    assert parse(IssueToken, {"kind": "bot"}).kind == "bot"
    assert _error(IssueToken, {"kind": "admin"}).details == {"path": "$.kind"}


def test_create_widget_defaults_and_bounds():
    """A widget allows every origin by default; its name and rate are bounded."""
    assert parse(CreateWidget, {"name": "Site"}).allowed_origins == ("*",)
    assert _error(CreateWidget, {"name": ""}).details == {"path": "$.name"}
    assert _error(CreateWidget, {"name": "n" * 201}).details == {"path": "$.name"}
    assert _error(CreateWidget, {"name": "S", "messages_per_minute": 0}).details == {
        "path": "$.messages_per_minute"
    }
    assert _error(CreateWidget, {"name": "S", "live_agent_endpoint_url": "ftp://x"}).details == {
        "path": "$.live_agent_endpoint_url"
    }
    assert _error(CreateWidget, {"name": "S", "allowed_origins": [""]}).details == {
        "path": "$.allowed_origins[0]"
    }


def test_update_widget_tells_null_from_absent():
    """UpdateWidget keeps null (clear) apart from absent (unchanged)."""
    widget = "0f0e0d0c-0b0a-4908-8706-050403020100"
    absent = parse(UpdateWidget, {"widget_id": widget})
    null = parse(UpdateWidget, {"widget_id": widget, "messages_per_minute": None})
    assert (absent.messages_per_minute, null.messages_per_minute) == (UNSET, None)


@pytest.mark.parametrize(
    ("appearance", "path", "words"),
    [
        ({"color": "blue"}, "$.appearance.color", "a hex colour"),
        ({"color": "#12345"}, "$.appearance.color", "a hex colour"),
        ({"position": "top"}, "$.appearance.position", "Invalid enum value 'top'"),
        ({"language": "de"}, "$.appearance.language", "Invalid enum value 'de'"),
        ({"title": " \t"}, "$.appearance.title", "title is blank"),
        ({"greeting": "g" * 501}, "$.appearance.greeting", "length <= 500"),
        ({"launcher_text": ""}, "$.appearance.launcher_text", "length >= 1"),
    ],
)
def test_widget_appearance_is_checked_at_decode(appearance, path, words):
    """A bad colour, position, language or text is a validation_error naming its field, on
    create and on update alike."""
    for cls, body in (
        (CreateWidget, {"name": "Site", "appearance": appearance}),
        (UpdateWidget, {"widget_id": AGENT, "appearance": appearance}),
    ):
        error = _error(cls, body)
        assert error.details == {"path": path} and words in str(error)


def test_widget_appearance_change_keeps_what_is_not_sent():
    """An appearance change sets the fields sent, removes those sent as null (back to their
    default) and keeps the rest; short and long hex colours both pass."""
    change = parse(
        UpdateWidget, {"widget_id": AGENT, "appearance": {"color": "#0A7", "title": None}}
    ).appearance
    assert isinstance(change, cmd.Appearance)
    chosen = {"title": "Help", "language": "fr"}
    assert change.applied_to(chosen) == {"language": "fr", "color": "#0A7"}
    assert chosen == {"title": "Help", "language": "fr"}
    created = parse(CreateWidget, {"name": "Site", "appearance": {"color": "#00aa77"}})
    assert created.appearance.applied_to({}) == {"color": "#00aa77"}
    assert parse(CreateWidget, {"name": "Site"}).appearance.applied_to({}) == {}


def test_create_widget_refuses_identity_required():
    """A new widget cannot require identity verification: it has no identity secret yet."""
    error = _error(CreateWidget, {"name": "Site", "identity_required": True})
    assert error.details == {"path": "$.identity_required"} and "identity-secret" in str(error)
    assert parse(CreateWidget, {"name": "Site", "identity_required": False})


def test_widget_session_identity_comes_in_pairs():
    """external_id and user_hash go together; user_hash is 64 hex digits."""
    widget = {"widget_id": AGENT}
    good = parse(cmd.OpenWidgetSession, {**widget, "external_id": "u-1", "user_hash": "aB" * 32})
    assert (good.external_id, good.user_hash) == ("u-1", "aB" * 32)
    for body, path in (
        ({"external_id": "u-1"}, "$.user_hash"),
        ({"user_hash": "a" * 64}, "$.external_id"),
        ({"external_id": "u-1", "user_hash": "a" * 63}, "$.user_hash"),
        ({"external_id": "u-1", "user_hash": "g" * 64}, "$.user_hash"),
        ({"external_id": "", "user_hash": "a" * 64}, "$.external_id"),
    ):
        assert _error(cmd.OpenWidgetSession, {**widget, **body}).details == {"path": path}


def test_rotate_identity_secret_takes_a_strong_secret_or_none():
    """A given identity secret has at least 32 characters and no whitespace."""
    widget = {"widget_id": AGENT}
    assert parse(cmd.RotateWidgetIdentitySecret, widget).identity_secret is UNSET
    for secret in ("s" * 31, "s" * 20 + " " + "s" * 20):
        error = _error(cmd.RotateWidgetIdentitySecret, {**widget, "identity_secret": secret})
        assert error.details == {"path": "$.identity_secret"}


def test_start_conversation_nests_the_contact():
    """StartConversation reads a nested contact with its own metadata."""
    started = parse(
        StartConversation,
        {"contact": {"external_id": "u-1", "email": "a@b.c", "metadata": {"plan": "pro"}}},
    )
    assert started.contact == ContactInput(
        external_id="u-1", email="a@b.c", metadata={"plan": "pro"}
    )
    assert (started.widget_id, started.contact_id, started.metadata) == (UNSET, UNSET, {})
    error = _error(StartConversation, {"contact": {"name": "n" * 201}})
    assert error.details == {"path": "$.contact.name"}
