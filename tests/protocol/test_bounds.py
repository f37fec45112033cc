"""Bounds on client input: document depth at decode, and metadata keys, depth, size and text."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from protocol.bounds import (
    MAX_DEPTH,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_METADATA_KEYS,
    Metadata,
    check_metadata,
    decode_hook,
    nesting,
)
from protocol.codes import ErrorCode
from protocol.commands import OpenWidgetSession, SendMessage, StartConversation
from protocol.encoding import JSON, MSGPACK, Codec, pack
from protocol.errors import ProtocolError
from protocol.frames import read_frame
from protocol.validation import parse
from tests.nesting import deep_json as nesting_text, deep_msgpack as nesting_bytes, levels
from tests.protocol.samples import CODECS, CONVERSATION


def nested(depth: int, leaf: Any = 1) -> Any:
    """``depth`` levels of alternating objects and arrays around ``leaf``."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def deep_json(depth: int) -> str:
    return nesting_text(levels(depth, "object"))


def deep_msgpack(depth: int) -> bytes:
    return nesting_bytes(levels(depth, "object"))


def deep_frame(codec: Codec, depth: int) -> str | bytes:
    """A message.send frame whose metadata is ``depth`` levels deep, in ``codec``'s bytes."""
    if codec is JSON:
        head = f'{{"op":"message.send","conversation_id":"{CONVERSATION}","content":"hi",'
        return head + '"metadata":' + deep_json(depth) + "}"
    header = b"\x84"  # a map of four entries; the last is the metadata
    fields = pack("op") + pack("message.send") + pack("conversation_id") + pack(CONVERSATION)
    return header + fields + pack("content") + pack("hi") + pack("metadata") + deep_msgpack(depth)


def send(metadata: Any) -> dict[str, Any]:
    return {"conversation_id": CONVERSATION, "content": "hi", "metadata": metadata}


def error_of(cls: type[Any], payload: dict[str, Any]) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(cls, payload)
    return info.value


# -- nesting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (1, 0),
        ("text", 0),
        ({}, 1),
        ([], 1),
        ({"a": 1, "b": "x"}, 1),
        ({"a": {"b": [1]}}, 3),
        ([1, [2, [3]], {"x": {}}], 3),
        (nested(MAX_DEPTH), MAX_DEPTH),
    ],
)
def test_nesting_counts_levels_of_objects_and_arrays(value, depth):
    """Each object or array is one level; scalars add none; the deepest branch counts."""
    assert nesting(value, 100) == depth


def test_nesting_stops_one_past_the_limit():
    """Measuring a very deep value stops one level past the limit, without recursion."""
    assert nesting(nested(100_000), 8) == 9


# -- document depth at decode -------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, MAX_DEPTH - 1, MAX_DEPTH])
def test_json_decode_accepts_documents_up_to_the_depth_limit(depth):
    """JSON text nesting up to MAX_DEPTH levels decodes."""
    assert nesting(JSON.decode(deep_json(depth)), 10_000) == depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 254, 255, 1023, 1024, 1025, 2000, 100_000])
@pytest.mark.parametrize("kind", ["object", "array"])
def test_json_decode_refuses_documents_past_the_depth_limit(depth, kind):
    """Deeper JSON, below or above orjson's own limit, is one bad_request naming the limit."""
    text = nesting_text(levels(depth, kind))
    with pytest.raises(ProtocolError) as info:
        JSON.decode(text.encode() if depth % 2 else text)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.details == {"max_depth": MAX_DEPTH}
    assert info.value.message == f"the document is nested deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize("depth", [1, MAX_DEPTH])
def test_msgpack_decode_accepts_documents_up_to_the_depth_limit(depth):
    """msgpack nesting up to MAX_DEPTH levels decodes."""
    assert nesting(MSGPACK.decode(deep_msgpack(depth)), 10_000) == depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 255, 1024, 1025, 2000, 100_000])
@pytest.mark.parametrize("kind", ["map", "array"])
def test_msgpack_decode_refuses_documents_past_the_depth_limit(depth, kind):
    """Deeper msgpack, below or above msgpack's own limit, is the same bad_request."""
    data = nesting_bytes(levels(depth, "object" if kind == "map" else "array"))
    with pytest.raises(ProtocolError) as info:
        MSGPACK.decode(data)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.details == {"max_depth": MAX_DEPTH}


@CODECS
def test_decode_refuses_depth_anywhere_in_a_frame(codec):
    """Depth counts from the frame itself: deep JSON in an unknown field is refused too."""
    with pytest.raises(ProtocolError) as info:
        codec.decode(codec.encode({"op": "ping", "extra": nested(MAX_DEPTH)}))
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert codec.decode(codec.encode({"op": "ping", "extra": nested(MAX_DEPTH - 1)}))


def test_json_decode_of_many_shallow_brackets_is_accepted():
    """Many brackets side by side are wide, not deep: accepted."""
    assert len(JSON.decode("[" + ",".join(["[]"] * 10_000) + "]")) == 10_000


# -- metadata -----------------------------------------------------------------------------


def test_metadata_decodes_as_a_plain_dict():
    """Valid metadata decodes as a dict equal to what was sent, nested values included."""
    value = {"plan": "pro", "tags": ["vip", None], "n": 3.5, "deep": nested(6)}
    sent = parse(SendMessage, send(value))
    assert isinstance(sent.metadata, dict)
    assert isinstance(sent.metadata, Metadata)
    assert sent.metadata == value


def test_metadata_defaults_to_empty():
    """A command without metadata has an empty one."""
    assert parse(SendMessage, {"conversation_id": CONVERSATION, "content": "hi"}).metadata == {}


def test_metadata_accepts_exactly_the_limits():
    """Metadata at exactly the key, depth and size limits is accepted."""
    keys = {f"k{i}": i for i in range(MAX_METADATA_KEYS)}
    assert parse(SendMessage, send(keys)).metadata == keys
    deep = {"k": nested(MAX_METADATA_DEPTH - 1)}
    assert parse(SendMessage, send(deep)).metadata == deep
    filler = "x" * (MAX_METADATA_BYTES - len(b'{"k":""}'))
    assert len(orjson.dumps({"k": filler})) == MAX_METADATA_BYTES
    assert parse(SendMessage, send({"k": filler})).metadata == {"k": filler}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        pytest.param(
            {f"k{i}": i for i in range(MAX_METADATA_KEYS + 1)},
            f"metadata may have at most {MAX_METADATA_KEYS} keys",
            id="keys",
        ),
        pytest.param(
            {"k": nested(MAX_METADATA_DEPTH)},
            f"metadata may nest at most {MAX_METADATA_DEPTH} levels",
            id="depth",
        ),
        pytest.param({"k": "a\x00b"}, "metadata may not contain U+0000", id="nul-in-string"),
        pytest.param({"k\x00": 1}, "metadata may not contain U+0000", id="nul-in-key"),
        pytest.param({"k": [{"j": "\x00"}]}, "metadata may not contain U+0000", id="nul-nested"),
        pytest.param([1], "Expected `object`, got `array`", id="array"),
        pytest.param("x", "Expected `object`, got `str`", id="string"),
        pytest.param(None, "Expected `object`, got `null`", id="null"),
        pytest.param(3, "Expected `object`, got `int`", id="int"),
    ],
)
def test_metadata_past_a_shape_limit_is_a_validation_error(metadata, message):
    """Too many keys, too deep, U+0000 or not an object: 422 validation_error at its path."""
    error = error_of(SendMessage, send(metadata))
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": "$.metadata"}
    assert error.message == f"{message} - at `$.metadata`"


def test_metadata_text_that_spells_a_nul_escape_is_accepted():
    """A backslash followed by "u0000" is text, not U+0000."""
    assert parse(SendMessage, send({"k": "\\u0000"})).metadata == {"k": "\\u0000"}


def test_metadata_over_the_size_limit_is_payload_too_large():
    """Metadata larger than 16 KiB as JSON is 413 payload_too_large at its path."""
    filler = "x" * (MAX_METADATA_BYTES - len(b'{"k":""}') + 1)
    error = error_of(SendMessage, send({"k": filler}))
    assert error.code is ErrorCode.PAYLOAD_TOO_LARGE
    assert error.http_status == 413
    assert error.details == {"path": "$.metadata"}


@pytest.mark.parametrize(
    ("cls", "payload", "path"),
    [
        (StartConversation, {"metadata": nested(9)}, "$.metadata"),
        (StartConversation, {"contact": {"metadata": nested(9)}}, "$.contact.metadata"),
        (OpenWidgetSession, {"widget_id": CONVERSATION, "metadata": nested(9)}, "$.metadata"),
        (SendMessage, send(nested(9)), "$.metadata"),
    ],
    ids=["conversation", "contact", "session", "message"],
)
def test_every_metadata_field_is_bounded(cls, payload, path):
    """Conversation, contact, session and message metadata share the bounds, each at its path."""
    error = error_of(cls, payload)
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": path}


@CODECS
@pytest.mark.parametrize("depth", [1, MAX_METADATA_DEPTH])
def test_frame_metadata_within_the_limit_is_read(codec, depth):
    """A message.send frame carrying metadata up to the depth limit is read, both codecs."""
    frame = read_frame(codec.decode(deep_frame(codec, depth)))
    assert nesting(frame.body.metadata, 100) == depth


@CODECS
@pytest.mark.parametrize("depth", [MAX_METADATA_DEPTH + 1, MAX_DEPTH - 1])
def test_frame_metadata_past_the_limit_is_refused(codec, depth):
    """A message.send frame with metadata too deep is a validation_error, both codecs."""
    with pytest.raises(ProtocolError) as info:
        read_frame(codec.decode(deep_frame(codec, depth)))
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details == {"path": "$.metadata"}


def test_check_metadata_refuses_values_json_cannot_carry():
    """Metadata built in code with a non-JSON value is refused, not stored."""
    with pytest.raises(ValueError, match="JSON values only"):
        check_metadata({"when": object()})


def test_decode_hook_knows_only_metadata():
    """The decoding hook refuses types it does not know."""
    with pytest.raises(NotImplementedError):
        decode_hook(complex, 1)


@CODECS
@pytest.mark.parametrize(
    "document",
    [{"content": "a\x00b"}, {"metadata": {"k\x00": 1}}, {"list": [["deep", "\x00"]]}],
    ids=["string", "key", "nested"],
)
def test_decode_refuses_nul_anywhere(codec, document):
    """U+0000 in any string or key of a body or frame is bad_request, in both codecs."""
    with pytest.raises(ProtocolError) as info:
        codec.decode(codec.encode(document))
    assert info.value.code is ErrorCode.BAD_REQUEST


@CODECS
def test_decode_takes_text_that_only_spells_an_escape(codec):
    """A backslash followed by "u0000" is text, not U+0000, and passes; so does a zero."""
    document = {"content": "C:\\u0000 is a path", "n": 0}
    assert codec.decode(codec.encode(document)) == document
