"""Property tests: whatever arrives on the socket, the protocol answers with a ProtocolError."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from hypothesis import event, given, settings, strategies as st

from protocol.codes import ErrorCode
from protocol.commands import Attachment
from protocol.encoding import JSON, MSGPACK, Codec, unpack
from protocol.errors import ProtocolError
from protocol.fields import MAX_SEQ
from protocol.frames import OPS, read_frame, reply_error
from tests.protocol.samples import AGENT, CODECS, CONVERSATION, SHA256

FUZZ = settings(max_examples=400, deadline=None)

FRAME_ERRORS = {ErrorCode.BAD_REQUEST, ErrorCode.UNKNOWN_OP, ErrorCode.VALIDATION_ERROR}

#: Every field name a client frame or attachment defines, so random frames reach validators.
FIELD_NAMES = sorted(
    {f.name for cls in [*OPS.values(), Attachment] for f in dataclasses.fields(cls)} | {"op", "ref"}
)

huge_ints = st.integers(min_value=2**53 - 2, max_value=2**200) | st.integers(
    max_value=-(2**53) + 2, min_value=-(2**200)
)
boundary_ints = st.sampled_from([0, -1, MAX_SEQ, MAX_SEQ + 1, 2**63 - 1, 2**63, 2**64, -(2**63)])
plausible_text = st.sampled_from(
    [
        CONVERSATION,
        AGENT,
        SHA256,
        "https://cdn.example.com/a.png",
        "ftp://x",
        "open",
        "bot",
        "agent",
        "",
        " ",
        *OPS,
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | huge_ints
    | boundary_ints
    | st.floats()  # nan and infinities included
    | st.text(max_size=20)
    | plausible_text
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)

#: Decoded-JSON-like values: what a codec could hand to ``read_frame``.
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)

#: Objects with a known op and random (often well-named) fields.
frames_with_op = st.builds(
    lambda op, fields: {**fields, "op": op},
    st.sampled_from(sorted(OPS)),
    st.dictionaries(keys, json_values, max_size=6),
)

VALID_FRAMES = [
    {"op": "hello", "token": "t", "resume": {CONVERSATION: 1}},
    {"op": "subscribe", "conversation_id": CONVERSATION, "after_seq": 0},
    {"op": "subscribe", "inbox": True},
    {"op": "unsubscribe", "conversation_id": CONVERSATION},
    {"op": "message.send", "conversation_id": CONVERSATION, "content": "hi"},
    {
        "op": "message.send",
        "conversation_id": CONVERSATION,
        "attachments": [{"url": "https://cdn.example.com/a.png", "sha256": SHA256}],
    },
    {"op": "conversation.update", "conversation_id": CONVERSATION, "status": "open"},
    {"op": "typing", "conversation_id": CONVERSATION, "on": True},
    {"op": "read", "conversation_id": CONVERSATION, "seq": 1},
    {"op": "ping", "ref": "r"},
]

#: Valid frames with a few fields added or replaced by random values.
perturbed_frames = st.builds(
    lambda base, fields: {**base, **fields},
    st.sampled_from(VALID_FRAMES),
    st.dictionaries(keys, json_values, max_size=2),
)

frame_like = json_values | frames_with_op | perturbed_frames


def check(obj: Any) -> None:
    """``read_frame`` either returns a typed frame or raises a sendable ProtocolError."""
    try:
        frame = read_frame(obj)
    except ProtocolError as exc:
        event(f"rejected: {exc.code.value}")
        assert exc.code in FRAME_ERRORS
        assert exc.ref is None or isinstance(exc.ref, str | int)
        reply = reply_error(exc.ref, exc)
        # The error reply itself must always be sendable in both codecs (read back by a
        # plain decoder: the codecs' decode also refuses client input, e.g. a NUL in text).
        assert orjson.loads(JSON.encode(reply)) == reply
        assert unpack(MSGPACK.encode(reply)) == reply
    else:
        event(f"accepted: {frame.op}")
        assert isinstance(frame.body, OPS[frame.op])


def decode_and_check(codec: Codec, data: str | bytes) -> None:
    """Decode raw payload with ``codec`` and read it; only ProtocolError may escape."""
    try:
        obj = codec.decode(data)
    except ProtocolError as exc:
        assert exc.code is ErrorCode.BAD_REQUEST
        return
    check(obj)


def encode(codec: Codec, obj: Any) -> str | bytes | None:
    """The payload, or None where the codec cannot represent ``obj`` (ints past 64 bits)."""
    try:
        return codec.encode(obj)
    except (orjson.JSONEncodeError, OverflowError):
        return None


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_msgpack_random_bytes(data):
    """Random bytes on the msgpack codec give a frame or a ProtocolError, nothing else."""
    decode_and_check(MSGPACK, data)


@FUZZ
@given(frames_with_op | perturbed_frames, st.data())
def test_fuzz_msgpack_corrupted_frames(obj, data):
    """A real msgpack frame with bytes cut, inserted or replaced gives only ProtocolError."""
    payload = encode(MSGPACK, obj)
    if payload is None:
        return
    assert isinstance(payload, bytes)
    start = data.draw(st.integers(0, len(payload)))
    stop = data.draw(st.integers(start, len(payload)))
    patch = data.draw(st.binary(max_size=8))
    decode_and_check(MSGPACK, payload[:start] + patch + payload[stop:])


@FUZZ
@given(st.text(max_size=200))
def test_fuzz_json_random_text(text):
    """Random text on the JSON codec gives a frame or a ProtocolError, nothing else."""
    decode_and_check(JSON, text)


@FUZZ
@given(st.text(st.characters(categories=["Cs"]) | st.characters(), max_size=50))
def test_fuzz_json_text_with_lone_surrogates(text):
    """Text holding lone surrogates, quoted or bare, gives only ProtocolError."""
    decode_and_check(JSON, text)
    decode_and_check(JSON, '{"op": "' + text + '", "ref": "' + text + '"}')


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_json_random_bytes(data):
    """Random bytes on the JSON codec give a frame or a ProtocolError, nothing else."""
    decode_and_check(JSON, data)


@FUZZ
@given(frames_with_op | perturbed_frames, st.data())
def test_fuzz_json_corrupted_frames(obj, data):
    """A real JSON frame with characters cut, inserted or replaced gives only ProtocolError."""
    payload = encode(JSON, obj)
    if payload is None:
        return
    assert isinstance(payload, str)
    start = data.draw(st.integers(0, len(payload)))
    stop = data.draw(st.integers(start, len(payload)))
    patch = data.draw(st.text(max_size=8) | st.sampled_from(["{", "}", "[", '"', ",", ":", "\\"]))
    decode_and_check(JSON, payload[:start] + patch + payload[stop:])


@FUZZ
@given(frame_like)
def test_fuzz_read_frame_random_values(obj):
    """Any decoded-JSON value, frame-shaped or not, gives a frame or a ProtocolError."""
    check(obj)


@FUZZ
@CODECS
@given(obj=frame_like)
def test_fuzz_codec_round_trip_then_read(codec, obj):
    """Whatever a codec can encode, it decodes again (or refuses with bad_request, as for a
    NUL in text), and reading it raises only ProtocolError."""
    payload = encode(codec, obj)
    if payload is None:
        return
    decode_and_check(codec, payload)


@FUZZ
@given(st.lists(frame_like, max_size=5))
def test_fuzz_joined_frames_decode_to_a_list(objs):
    """A join of encoded values decodes to the list of those values, in both codecs."""
    codecs: tuple[Codec, ...] = (JSON, MSGPACK)
    for codec in codecs:
        payloads = [encode(codec, obj) for obj in objs]
        parts = [payload for payload in payloads if payload is not None]
        joined = plain_decode(codec, codec.join(parts))
        assert isinstance(joined, list)
        # Compared re-encoded, so that NaN (never equal to itself) does not fail the test.
        assert [codec.encode(item) for item in joined] == [
            codec.encode(plain_decode(codec, part)) for part in parts
        ]


def plain_decode(codec: Codec, data: str | bytes) -> Any:
    """Read server output back as a client would: the codecs' own ``decode`` is for client
    input and also refuses what the gateway will not take (a NUL in text, deep nesting)."""
    return unpack(data) if isinstance(data, bytes) else orjson.loads(data)
