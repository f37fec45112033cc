"""Client frames (every op decodes, envelope errors, both codecs) and server reply frames."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from msgspec import UNSET

from protocol.codes import ErrorCode
from protocol.commands import (
    Attachment,
    MarkRead,
    SendMessage,
    SetPresence,
    SetTyping,
    SetViewing,
    UpdateConversation,
)
from protocol.encoding import JSON, MSGPACK, pack
from protocol.errors import GatewayError, ProtocolError
from protocol.fields import MAX_ATTACHMENTS, MAX_CONTENT_CHARS, MAX_SEQ
from protocol.frames import (
    MAX_REF_CHARS,
    OPS,
    ClientFrame,
    Hello,
    Ping,
    Subscribe,
    Unsubscribe,
    read_frame,
    reply_error,
    reply_ok,
)
from protocol.states import Role, Status
from tests.protocol.samples import (
    ABSENT,
    AGENT,
    CODECS,
    CONVERSATION,
    OTHER_CONVERSATION,
    SHA256,
    wire_frame,
)

CID = UUID(CONVERSATION)
ATTACHMENT = {"url": "https://cdn.example.com/a.png"}


# -- every op decodes ---------------------------------------------------------------------

VALID = [
    pytest.param("hello", {"token": "tok.en"}, Hello(token="tok.en"), id="hello"),
    pytest.param(
        "hello",
        {"token": "t", "resume": {CONVERSATION: 3, OTHER_CONVERSATION: 0}},
        Hello(token="t", resume={CID: 3, UUID(OTHER_CONVERSATION): 0}),
        id="hello-resume",
    ),
    pytest.param(
        "subscribe",
        {"conversation_id": CONVERSATION},
        Subscribe(conversation_id=CID),
        id="subscribe",
    ),
    pytest.param(
        "subscribe",
        {"conversation_id": CONVERSATION, "after_seq": 12},
        Subscribe(conversation_id=CID, after_seq=12),
        id="subscribe-after-seq",
    ),
    pytest.param("subscribe", {"inbox": True}, Subscribe(inbox=True), id="subscribe-inbox"),
    pytest.param(
        "unsubscribe",
        {"conversation_id": CONVERSATION},
        Unsubscribe(conversation_id=CID),
        id="unsubscribe",
    ),
    pytest.param("unsubscribe", {"inbox": True}, Unsubscribe(inbox=True), id="unsubscribe-inbox"),
    pytest.param(
        "message.send",
        {"conversation_id": CONVERSATION, "content": "hello"},
        SendMessage(conversation_id=CID, content="hello"),
        id="message-send",
    ),
    pytest.param(
        "message.send",
        {
            "conversation_id": CONVERSATION,
            "content": "x" * MAX_CONTENT_CHARS,
            "attachments": [
                {
                    "url": "https://cdn.example.com/a.png",
                    "mime": "image/png",
                    "size": 1024,
                    "sha256": SHA256,
                    "name": "a.png",
                }
            ],
            "client_message_id": "m-1",
            "role": "bot",
            "agent_id": AGENT,
            "epoch": 4,
            "metadata": {"lang": "fr", "n": [1, None]},
        },
        SendMessage(
            conversation_id=CID,
            content="x" * MAX_CONTENT_CHARS,
            attachments=(
                Attachment(
                    url="https://cdn.example.com/a.png",
                    mime="image/png",
                    size=1024,
                    sha256=SHA256,
                    name="a.png",
                ),
            ),
            client_message_id="m-1",
            role=Role.BOT,
            agent_id=UUID(AGENT),
            epoch=4,
            metadata={"lang": "fr", "n": [1, None]},
        ),
        id="message-send-every-field",
    ),
    pytest.param(
        "message.send",
        {"conversation_id": CONVERSATION, "attachments": [ATTACHMENT] * MAX_ATTACHMENTS},
        SendMessage(
            conversation_id=CID,
            attachments=(Attachment(url=ATTACHMENT["url"]),) * MAX_ATTACHMENTS,
        ),
        id="message-send-attachments-only",
    ),
    pytest.param(
        "conversation.update",
        {"conversation_id": CONVERSATION, "status": "resolved", "assignee_id": AGENT, "epoch": 2},
        UpdateConversation(
            conversation_id=CID, status=Status.RESOLVED, assignee_id=UUID(AGENT), epoch=2
        ),
        id="conversation-update",
    ),
    pytest.param(
        "conversation.update",
        {"conversation_id": CONVERSATION, "assignee_id": None},
        UpdateConversation(conversation_id=CID, assignee_id=None),
        id="conversation-update-unassign",
    ),
    pytest.param(
        "typing",
        {"conversation_id": CONVERSATION, "on": True},
        SetTyping(conversation_id=CID, on=True),
        id="typing-on",
    ),
    pytest.param(
        "typing",
        {"conversation_id": CONVERSATION, "on": False},
        SetTyping(conversation_id=CID, on=False),
        id="typing-off",
    ),
    pytest.param(
        "read",
        {"conversation_id": CONVERSATION, "seq": 7},
        MarkRead(conversation_id=CID, seq=7),
        id="read",
    ),
    pytest.param(
        "read",
        {"conversation_id": CONVERSATION, "seq": MAX_SEQ},
        MarkRead(conversation_id=CID, seq=MAX_SEQ),
        id="read-max-seq",
    ),
    pytest.param("presence", {"status": "away"}, SetPresence(status="away"), id="presence"),
    pytest.param(
        "viewing",
        {"conversation_id": CONVERSATION, "on": True},
        SetViewing(conversation_id=CID, on=True),
        id="viewing",
    ),
    pytest.param("ping", {}, Ping(), id="ping"),
]

REFS = [
    pytest.param("c1", id="ref-str"),
    pytest.param(42, id="ref-int"),
    pytest.param(ABSENT, id="ref-absent"),
]


def test_ops_every_op_has_a_valid_frame_case():
    """The valid-frame table covers every op in OPS, so a new op needs a new case."""
    assert {case.values[0] for case in VALID} == set(OPS)


@CODECS
@pytest.mark.parametrize("ref", REFS)
@pytest.mark.parametrize(("op", "fields", "body"), VALID)
def test_read_frame_decodes_every_op(codec, ref, op, fields, body):
    """Every op, in both codecs, reads into its typed body with the ref echoed."""
    obj: dict[str, Any] = {"op": op, **fields}
    if ref is not ABSENT:
        obj["ref"] = ref
    frame = wire_frame(codec, obj)
    assert frame == ClientFrame(op=op, ref=None if ref is ABSENT else ref, body=body)
    assert type(frame.body) is OPS[op]


def test_read_frame_leaves_unsent_fields_unset():
    """Fields the client did not send are UNSET, distinct from null."""
    sent = read_frame({"op": "message.send", "conversation_id": CONVERSATION, "content": "hi"})
    assert sent.body.client_message_id is UNSET
    assert sent.body.role is UNSET
    assert sent.body.epoch is UNSET
    update = read_frame({"op": "conversation.update", "conversation_id": CONVERSATION})
    assert update.body.assignee_id is UNSET
    assert update.body.status is UNSET


@CODECS
def test_read_frame_ignores_unknown_fields(codec):
    """Fields a body does not define are ignored, not rejected."""
    frame = wire_frame(codec, {"op": "ping", "ref": 1, "extra": {"a": [1]}, "token": 5})
    assert frame == ClientFrame(op="ping", ref=1, body=Ping())


@CODECS
@pytest.mark.parametrize(
    "ref",
    [
        None,
        "",
        0,
        -1,
        "r" * MAX_REF_CHARS,
        2**53 - 1,
        -(2**53 - 1),
        "é🙂",
    ],
)
def test_read_frame_accepts_ref_boundaries(codec, ref):
    """Null, empty, zero, negative and longest-allowed refs are all echoed as sent."""
    assert wire_frame(codec, {"op": "ping", "ref": ref}).ref == ref


# -- envelope errors ----------------------------------------------------------------------


@CODECS
@pytest.mark.parametrize(
    "obj",
    [
        pytest.param([], id="empty-array"),
        pytest.param([{"op": "ping"}], id="array-of-frames"),
        pytest.param("ping", id="string"),
        pytest.param(5, id="int"),
        pytest.param(1.5, id="float"),
        pytest.param(True, id="bool"),
        pytest.param(None, id="null"),
    ],
)
def test_read_frame_rejects_non_objects(codec, obj):
    """A frame that is not an object is a bad_request with no ref."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, obj)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message == "a frame must be an object"
    assert info.value.ref is None


@CODECS
@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"ref": "c9"}, id="missing"),
        pytest.param({"ref": "c9", "op": None}, id="null"),
        pytest.param({"ref": "c9", "op": 5}, id="int"),
        pytest.param({"ref": "c9", "op": True}, id="bool"),
        pytest.param({"ref": "c9", "op": ["ping"]}, id="array"),
        pytest.param({"ref": "c9", "op": {"name": "ping"}}, id="object"),
    ],
)
def test_read_frame_rejects_missing_or_non_string_op(codec, obj):
    """A frame without a string op is a bad_request that still carries its ref."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, obj)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message == "a frame needs a string 'op'"
    assert info.value.ref == "c9"


def test_read_frame_rejects_binary_op():
    """A msgpack bin value is not JSON: the frame is refused while decoding."""
    with pytest.raises(ProtocolError) as info:
        read_frame(MSGPACK.decode(pack({"op": b"ping", "ref": 3})))
    assert info.value.code is ErrorCode.BAD_REQUEST


@CODECS
@pytest.mark.parametrize("op", ["nope", "PING", "Ping", "", "message", "event", "reply"])
@pytest.mark.parametrize("ref", ["c7", 7, None])
def test_read_frame_rejects_unknown_op_keeping_ref(codec, op, ref):
    """An op we do not know is unknown_op, with the ref preserved for the reply."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, {"op": op, "ref": ref})
    assert info.value.code is ErrorCode.UNKNOWN_OP
    assert info.value.ref == ref
    assert info.value.message == f"unknown op {op!r}"


def test_read_frame_unknown_op_message_is_truncated():
    """A huge unknown op is cut to 64 characters in the error message."""
    with pytest.raises(ProtocolError) as info:
        read_frame({"op": "x" * 100_000})
    assert info.value.message == f"unknown op {'x' * 64!r}"


@CODECS
@pytest.mark.parametrize(
    "ref",
    [
        pytest.param(1.5, id="float"),
        pytest.param(1.0, id="integral-float"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("r" * (MAX_REF_CHARS + 1), id="too-long"),
        pytest.param(2**53, id="int-2-53"),
        pytest.param(-(2**53), id="int-minus-2-53"),
        pytest.param(2**63, id="huge-int"),
        pytest.param([1], id="array"),
        pytest.param({"id": 1}, id="object"),
    ],
)
@pytest.mark.parametrize("op", ["ping", "nope", 5])
def test_read_frame_rejects_bad_ref(codec, ref, op):
    """A ref that is not a short string or a safe int is a bad_request, whatever the op."""
    with pytest.raises(ProtocolError) as info:
        wire_frame(codec, {"op": op, "ref": ref})
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message == "'ref' must be a string of at most 128 chars or an int"
    assert info.value.ref is None


def test_read_frame_rejects_json_ref_past_64_bits():
    """A JSON ref too large for 64 bits (decoded as a float) is a bad_request."""
    with pytest.raises(ProtocolError) as info:
        read_frame(JSON.decode('{"op": "ping", "ref": 123456789012345678901234567890}'))
    assert info.value.code is ErrorCode.BAD_REQUEST


def test_read_frame_rejects_binary_ref():
    """A msgpack bin value is not a string ref."""
    with pytest.raises(ProtocolError) as info:
        read_frame(MSGPACK.decode(pack({"op": "ping", "ref": b"c1"})))
    assert info.value.code is ErrorCode.BAD_REQUEST


# -- server frames ------------------------------------------------------------------------


def test_reply_ok_without_data_sends_an_empty_object():
    """A reply with no data carries ``data: {}``, never null."""
    assert reply_ok("c1") == {"op": "reply", "ref": "c1", "ok": True, "data": {}}


@pytest.mark.parametrize("data", [{"pong": True}, [], [1, 2], 0, "", False])
def test_reply_ok_keeps_given_data(data):
    """Any data other than None, falsy or not, is sent as given."""
    assert reply_ok(3, data) == {"op": "reply", "ref": 3, "ok": True, "data": data}


def test_reply_error_shape():
    """An error reply carries ``ok: false`` and the error's wire form."""
    error = GatewayError(ErrorCode.NOT_FOUND, "no such conversation", details={"id": "x"})
    assert reply_error(None, error) == {
        "op": "reply",
        "ref": None,
        "ok": False,
        "error": {"code": "not_found", "message": "no such conversation", "details": {"id": "x"}},
    }


@CODECS
@pytest.mark.parametrize("ref", ["c1", 7, None])
def test_reply_frames_round_trip(codec, ref):
    """Replies, ok or error, come back unchanged through either codec."""
    ok = reply_ok(ref, {"pong": True})
    assert codec.decode(codec.encode(ok)) == ok
    with pytest.raises(ProtocolError) as info:
        read_frame({"op": "read", "ref": ref, "conversation_id": CONVERSATION, "seq": -1})
    error = reply_error(info.value.ref, info.value)
    assert error["ref"] == ref
    assert error["error"]["details"] == {"path": "$.seq"}
    assert codec.decode(codec.encode(error)) == error
