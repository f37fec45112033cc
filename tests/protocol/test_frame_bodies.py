"""Client frame bodies: every invalid field of every op answers a stable error, both codecs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgpack
import pytest

from protocol.codes import ErrorCode
from protocol.commands import Attachment
from protocol.encoding import JSON, MSGPACK, pack
from protocol.errors import ProtocolError
from protocol.fields import MAX_ATTACHMENTS, MAX_CONTENT_CHARS, MAX_SEQ
from protocol.frames import (
    MAX_RESUME,
    read_frame,
)
from tests.protocol.samples import (
    ABSENT,
    CODECS,
    CONVERSATION,
    SHA256,
    wire_frame,
)

ATTACHMENT = {"url": "https://cdn.example.com/a.png"}


# -- body errors --------------------------------------------------------------------------


def _send(**fields: Any) -> dict[str, Any]:
    return {"op": "message.send", "conversation_id": CONVERSATION, "content": "hi", **fields}


INVALID = [
    # message.send
    pytest.param(_send(content=5), "$.content", id="send-content-int"),
    pytest.param(_send(content=None), "$.content", id="send-content-null"),
    pytest.param(_send(content=["hi"]), "$.content", id="send-content-array"),
    pytest.param(
        _send(content="x" * (MAX_CONTENT_CHARS + 1)), "$.content", id="send-content-too-long"
    ),
    pytest.param(_send(conversation_id="nope"), "$.conversation_id", id="send-cid-not-uuid"),
    pytest.param(_send(conversation_id=5), "$.conversation_id", id="send-cid-int"),
    pytest.param(_send(conversation_id=None), "$.conversation_id", id="send-cid-null"),
    pytest.param(_send(attachments="x"), "$.attachments", id="send-attachments-string"),
    pytest.param(_send(attachments={"url": "https://a"}), "$.attachments", id="send-att-object"),
    pytest.param(
        _send(attachments=[ATTACHMENT] * (MAX_ATTACHMENTS + 1)),
        "$.attachments",
        id="send-too-many-attachments",
    ),
    pytest.param(
        _send(attachments=[{"url": "ftp://example.com/a"}]),
        "$.attachments[0].url",
        id="send-attachment-ftp",
    ),
    pytest.param(
        _send(attachments=[ATTACHMENT, {"url": "javascript:alert(1)"}]),
        "$.attachments[1].url",
        id="send-attachment-javascript",
    ),
    pytest.param(
        _send(attachments=[{"url": "https://"}]), "$.attachments[0].url", id="send-att-no-host"
    ),
    pytest.param(
        _send(attachments=[{"url": "https://a b"}]), "$.attachments[0].url", id="send-att-space"
    ),
    pytest.param(
        _send(attachments=[{"url": "https://a/" + "x" * 2048}]),
        "$.attachments[0].url",
        id="send-att-url-too-long",
    ),
    pytest.param(_send(attachments=[{"url": 5}]), "$.attachments[0].url", id="send-att-url-int"),
    pytest.param(_send(attachments=[{"mime": "a"}]), "$.attachments[0]", id="send-att-no-url"),
    pytest.param(_send(attachments=["https://a"]), "$.attachments[0]", id="send-att-string"),
    pytest.param(
        _send(attachments=[{**ATTACHMENT, "size": -1}]),
        "$.attachments[0].size",
        id="send-att-size-negative",
    ),
    pytest.param(
        _send(attachments=[{**ATTACHMENT, "size": "1"}]),
        "$.attachments[0].size",
        id="send-att-size-string",
    ),
    pytest.param(
        _send(attachments=[{**ATTACHMENT, "sha256": SHA256.upper()}]),
        "$.attachments[0].sha256",
        id="send-att-sha-upper",
    ),
    pytest.param(
        _send(attachments=[{**ATTACHMENT, "sha256": "ab"}]),
        "$.attachments[0].sha256",
        id="send-att-sha-short",
    ),
    pytest.param(
        _send(attachments=[{**ATTACHMENT, "name": "n" * 201}]),
        "$.attachments[0].name",
        id="send-att-name-too-long",
    ),
    pytest.param(
        _send(attachments=[{**ATTACHMENT, "mime": "m" * 201}]),
        "$.attachments[0].mime",
        id="send-att-mime-too-long",
    ),
    pytest.param(_send(client_message_id=""), "$.client_message_id", id="send-cmid-empty"),
    pytest.param(_send(client_message_id="m" * 129), "$.client_message_id", id="send-cmid-long"),
    pytest.param(_send(client_message_id=7), "$.client_message_id", id="send-cmid-int"),
    pytest.param(_send(role="admin"), "$.role", id="send-role-unknown"),
    pytest.param(_send(role="BOT"), "$.role", id="send-role-case"),
    pytest.param(_send(agent_id="agent-1"), "$.agent_id", id="send-agent-not-uuid"),
    pytest.param(_send(epoch=-1), "$.epoch", id="send-epoch-negative"),
    pytest.param(_send(epoch=True), "$.epoch", id="send-epoch-bool"),
    pytest.param(_send(epoch=1.5), "$.epoch", id="send-epoch-float"),
    pytest.param(_send(metadata=[1]), "$.metadata", id="send-metadata-array"),
    pytest.param(_send(metadata="x"), "$.metadata", id="send-metadata-string"),
    pytest.param(
        _send(metadata={str(i): i for i in range(51)}), "$.metadata", id="send-metadata-51-keys"
    ),
    # conversation.update
    pytest.param(
        {"op": "conversation.update", "conversation_id": CONVERSATION, "status": "nope"},
        "$.status",
        id="update-status-unknown",
    ),
    pytest.param(
        {"op": "conversation.update", "conversation_id": CONVERSATION, "status": None},
        "$.status",
        id="update-status-null",
    ),
    pytest.param(
        {"op": "conversation.update", "conversation_id": CONVERSATION, "assignee_id": "bob"},
        "$.assignee_id",
        id="update-assignee-not-uuid",
    ),
    pytest.param(
        {"op": "conversation.update", "conversation_id": CONVERSATION, "epoch": True},
        "$.epoch",
        id="update-epoch-bool",
    ),
    pytest.param(
        {"op": "conversation.update", "conversation_id": "x"},
        "$.conversation_id",
        id="update-cid-not-uuid",
    ),
    # typing
    pytest.param(
        {"op": "typing", "conversation_id": CONVERSATION, "on": "true"}, "$.on", id="typing-on-str"
    ),
    pytest.param(
        {"op": "typing", "conversation_id": CONVERSATION, "on": 1}, "$.on", id="typing-on-int"
    ),
    pytest.param(
        {"op": "typing", "conversation_id": CONVERSATION, "on": None}, "$.on", id="typing-on-null"
    ),
    pytest.param(
        {"op": "typing", "conversation_id": "c-1", "on": True},
        "$.conversation_id",
        id="typing-cid-not-uuid",
    ),
    # read
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": -1}, "$.seq", id="read-seq-negative"
    ),
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": True}, "$.seq", id="read-seq-bool"
    ),
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": MAX_SEQ + 1},
        "$.seq",
        id="read-seq-too-large",
    ),
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": 2**63}, "$.seq", id="read-seq-huge"
    ),
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": "5"}, "$.seq", id="read-seq-string"
    ),
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": 5.5}, "$.seq", id="read-seq-fraction"
    ),
    pytest.param(
        {"op": "read", "conversation_id": CONVERSATION, "seq": float("nan")},
        "$.seq",
        id="read-seq-nan",
    ),
    # subscribe / unsubscribe
    pytest.param(
        {"op": "subscribe", "conversation_id": CONVERSATION, "after_seq": -1},
        "$.after_seq",
        id="subscribe-after-seq-negative",
    ),
    pytest.param(
        {"op": "subscribe", "conversation_id": CONVERSATION, "after_seq": "1"},
        "$.after_seq",
        id="subscribe-after-seq-string",
    ),
    pytest.param({"op": "subscribe", "inbox": "yes"}, "$.inbox", id="subscribe-inbox-string"),
    pytest.param({"op": "subscribe", "inbox": 1}, "$.inbox", id="subscribe-inbox-int"),
    pytest.param(
        {"op": "subscribe", "conversation_id": None}, "$.conversation_id", id="subscribe-cid-null"
    ),
    pytest.param(
        {"op": "unsubscribe", "conversation_id": "x"},
        "$.conversation_id",
        id="unsubscribe-cid-not-uuid",
    ),
    # hello
    pytest.param({"op": "hello", "token": ""}, "$.token", id="hello-token-empty"),
    pytest.param({"op": "hello", "token": 5}, "$.token", id="hello-token-int"),
    pytest.param({"op": "hello", "token": None}, "$.token", id="hello-token-null"),
    pytest.param({"op": "hello", "token": "t" * 4097}, "$.token", id="hello-token-too-long"),
    pytest.param({"op": "hello", "token": "t", "resume": [1]}, "$.resume", id="hello-resume-array"),
    pytest.param(
        {"op": "hello", "token": "t", "resume": {CONVERSATION: -1}},
        "$.resume[...]",
        id="hello-resume-negative",
    ),
    pytest.param(
        {"op": "hello", "token": "t", "resume": {CONVERSATION: "1"}},
        "$.resume[...]",
        id="hello-resume-string",
    ),
    pytest.param(
        {
            "op": "hello",
            "token": "t",
            "resume": {str(UUID(int=i)): 0 for i in range(MAX_RESUME + 1)},
        },
        "$.resume",
        id="hello-resume-too-many",
    ),
]


@CODECS
@pytest.mark.parametrize(("obj", "path"), INVALID)
def test_read_frame_rejects_invalid_body(codec, obj, path):
    """A body that breaks its schema is a validation_error naming the field, ref kept."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, {**obj, "ref": "r1"})
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details == {"path": path}
    assert info.value.ref == "r1"


@CODECS
@pytest.mark.parametrize(
    ("obj", "field"),
    [
        pytest.param({"op": "hello"}, "token", id="hello"),
        pytest.param({"op": "message.send", "content": "hi"}, "conversation_id", id="send"),
        pytest.param({"op": "conversation.update"}, "conversation_id", id="update"),
        pytest.param({"op": "typing", "conversation_id": CONVERSATION}, "on", id="typing-on"),
        pytest.param({"op": "typing", "on": True}, "conversation_id", id="typing-cid"),
        pytest.param({"op": "read", "conversation_id": CONVERSATION}, "seq", id="read-seq"),
        pytest.param({"op": "read", "seq": 1}, "conversation_id", id="read-cid"),
    ],
)
def test_read_frame_rejects_missing_required_field(codec, obj, field):
    """A missing required field is a validation_error that names the field."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, {**obj, "ref": 5})
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.message == f"Object missing required field `{field}`"
    assert info.value.ref == 5


@CODECS
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(ABSENT, id="absent"),
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param(" \t\n\r\u3000\u00a0", id="whitespace"),
    ],
)
@pytest.mark.parametrize("attachments", [ABSENT, []], ids=["no-attachments", "empty-list"])
def test_read_frame_rejects_message_without_content_or_attachments(codec, content, attachments):
    """message.send with blank content and no attachments is a validation_error."""
    obj: dict[str, Any] = {"op": "message.send", "ref": "m", "conversation_id": CONVERSATION}
    if content is not ABSENT:
        obj["content"] = content
    if attachments is not ABSENT:
        obj["attachments"] = attachments
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, obj)
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.message == "a message needs content or attachments"
    assert info.value.ref == "m"


@CODECS
def test_read_frame_accepts_blank_content_with_an_attachment(codec):
    """Blank content is fine when the message carries an attachment."""
    frame = wire_frame(
        codec,
        {
            "op": "message.send",
            "conversation_id": CONVERSATION,
            "content": " ",
            "attachments": [ATTACHMENT],
        },
    )
    assert frame.body.content == " "
    assert frame.body.attachments == (Attachment(url=ATTACHMENT["url"]),)


@CODECS
@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="neither"),
        pytest.param({"inbox": False}, id="inbox-false"),
        pytest.param({"conversation_id": CONVERSATION, "inbox": True}, id="both"),
    ],
)
@pytest.mark.parametrize("op", ["subscribe", "unsubscribe"])
def test_read_frame_subscribe_needs_exactly_one_target(codec, op, fields):
    """(un)subscribe takes a conversation_id or inbox: true, not neither and not both."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, {"op": op, "ref": 9, **fields})
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.message == "give either conversation_id or inbox: true"
    assert info.value.ref == 9


@CODECS
def test_read_frame_rejects_depth_bomb_inside_a_frame(codec):
    """A frame nested too deep inside a field is a protocol error, not a crash."""
    payload = codec.encode({"op": "message.send", "metadata": {}})
    if codec is JSON:
        bomb = payload.replace("{}", '{"a":' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        bomb = payload[:-1] + b"\x81\xa1a" + b"\x91" * 100_000 + b"\xc0"
    with pytest.raises(ProtocolError) as info:
        read_frame(codec.decode(bomb))
    assert info.value.code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\x00\x01", id="bin"),
        pytest.param(msgpack.ExtType(5, b"x"), id="ext"),
        pytest.param(msgpack.Timestamp(1), id="timestamp"),
    ],
)
def test_read_frame_rejects_non_json_msgpack_values(value):
    """A msgpack value JSON cannot hold (bin, ext, timestamp) is a protocol error."""
    # Decoded frames must be decoded JSON (encoding.py): otherwise a msgpack client smuggles a
    # value that no JSON session, REST response or JSON column can carry.
    data = pack(
        {
            "op": "message.send",
            "conversation_id": CONVERSATION,
            "content": "hi",
            "metadata": {"blob": value},
        }
    )
    with pytest.raises(ProtocolError):
        read_frame(MSGPACK.decode(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [("content", b"hi"), ("token", b"t")],
)
def test_read_frame_rejects_binary_for_string_fields(field, value):
    """A msgpack bin value where a string belongs is refused while decoding (bad_request)."""
    obj = {"op": "hello" if field == "token" else "message.send", "conversation_id": CONVERSATION}
    obj.update({"token": "t", "content": "hi", field: value})
    with pytest.raises(ProtocolError) as info:
        read_frame(MSGPACK.decode(pack(obj)))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "bytes is not JSON" in info.value.message


@CODECS
def test_read_frame_names_the_map_of_a_bad_key(codec):
    """A resume key that is not a UUID is a validation_error whose details.path names resume."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, {"op": "hello", "token": "t", "resume": {"not-a-uuid": 1}})
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details is not None
    assert info.value.details["path"].startswith("$.resume")
