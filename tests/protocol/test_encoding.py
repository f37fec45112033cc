"""Codecs: JSON (orjson, text frames) and msgpack (binary frames), join and negotiation."""

from __future__ import annotations

import struct

import msgpack
import pytest

from protocol.codes import ErrorCode
from protocol.encoding import (
    JSON,
    MSGPACK,
    SUBPROTOCOLS,
    JsonCodec,
    MsgpackCodec,
    negotiate,
    pack,
    unpack,
)
from protocol.errors import ProtocolError
from tests.protocol.samples import CODECS

FRAME = {"op": "reply", "ref": "c1", "ok": True, "data": {"n": [1, 2.5, None, True, "é"]}}


def test_json_codec_is_text():
    """``chatgate.json`` sends text frames and encodes to str."""
    assert (JSON.subprotocol, JSON.binary) == ("chatgate.json", False)
    assert isinstance(JSON, JsonCodec)
    assert isinstance(JSON.encode(FRAME), str)


def test_msgpack_codec_is_binary():
    """``chatgate.msgpack`` sends binary frames and encodes to bytes."""
    assert (MSGPACK.subprotocol, MSGPACK.binary) == ("chatgate.msgpack", True)
    assert isinstance(MSGPACK, MsgpackCodec)
    assert isinstance(MSGPACK.encode(FRAME), bytes)


def test_subprotocols_map_names_to_codecs():
    """SUBPROTOCOLS maps each codec's subprotocol name to that codec."""
    assert SUBPROTOCOLS == {"chatgate.json": JSON, "chatgate.msgpack": MSGPACK}


@CODECS
def test_codec_round_trips_an_object(codec):
    """decode(encode(x)) gives back x."""
    assert codec.decode(codec.encode(FRAME)) == FRAME


def test_json_encode_is_compact():
    """JSON frames carry no insignificant whitespace."""
    assert JSON.encode({"op": "ping", "ref": 1}) == '{"op":"ping","ref":1}'


def test_json_encode_writes_non_finite_floats_as_null():
    """NaN and infinities become null, so a server frame is always valid JSON."""
    assert JSON.encode([float("nan"), float("inf"), float("-inf")]) == "[null,null,null]"


@pytest.mark.parametrize("payload", ['{"op":"ping"}', b'{"op":"ping"}'], ids=["str", "bytes"])
def test_json_decode_accepts_text_and_utf8_bytes(payload):
    """The JSON codec reads a text frame or its UTF-8 bytes."""
    assert JSON.decode(payload) == {"op": "ping"}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("", id="empty"),
        pytest.param("{", id="unterminated"),
        pytest.param("{'op': 'ping'}", id="single-quotes"),
        pytest.param('{"op": "ping",}', id="trailing-comma"),
        pytest.param('{"op":"ping"} {"op":"ping"}', id="two-documents"),
        pytest.param("NaN", id="nan-literal"),
        pytest.param('{"n": 1e999}', id="infinite-number"),
        pytest.param("\ud800", id="lone-surrogate-str"),
        pytest.param('"\ud800"', id="lone-surrogate-in-string"),
        pytest.param(b'"\xff\xfe"', id="invalid-utf8"),
        pytest.param(b"\x81\xa2op\xa4ping", id="msgpack-bytes"),
    ],
)
def test_json_decode_rejects_malformed_input(payload):
    """Malformed JSON is a bad_request protocol error, never another exception."""
    with pytest.raises(ProtocolError) as info:
        JSON.decode(payload)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message.startswith("malformed JSON: ")


def test_json_decode_reads_huge_integers_as_floats():
    """An integer past 64 bits decodes (as a float) instead of failing."""
    assert JSON.decode("123456789012345678901234567890") == pytest.approx(1.2345678901e29)


def test_msgpack_decode_rejects_text_frames():
    """A text frame sent on the msgpack subprotocol is a bad_request."""
    with pytest.raises(ProtocolError) as info:
        MSGPACK.decode('{"op":"ping"}')
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message == "chatgate.msgpack expects binary frames"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc1", id="reserved-byte"),
        pytest.param(pack({"op": "ping"})[:-1], id="truncated"),
        pytest.param(pack({"op": "ping"}) + b"\x00", id="extra-data"),
        pytest.param(b"\xdd\xff\xff\xff\xff", id="huge-array-header"),
        pytest.param(b"\xdf\xff\xff\xff\xff", id="huge-map-header"),
        pytest.param(b"\xdb\xff\xff\xff\xff", id="huge-str-header"),
        pytest.param(b"\xa2\xff\xfe", id="invalid-utf8-str"),
        pytest.param(b"\xa3\xed\xa0\x80", id="surrogate-utf8-str"),
        pytest.param(b"\xc7\x05\xff" + b"\x00" * 5, id="bad-timestamp-ext"),
        pytest.param(b'{"op":"ping"}', id="json-bytes"),
    ],
)
def test_msgpack_decode_rejects_malformed_input(payload):
    """Malformed msgpack is a bad_request protocol error, never another exception."""
    with pytest.raises(ProtocolError) as info:
        MSGPACK.decode(payload)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.message.startswith("malformed msgpack: ")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x81\x01\xa1x", id="int-key"),
        pytest.param(b"\x81\xc0\xa1x", id="nil-key"),
        pytest.param(b"\x81\xc3\xa1x", id="bool-key"),
        pytest.param(b"\x81\xcb" + struct.pack(">d", 1.5) + b"\xa1x", id="float-key"),
        pytest.param(b"\x81\x91\x01\xa1x", id="array-key"),
        pytest.param(b"\x81\x80\xa1x", id="map-key"),
        pytest.param(b"\x81\xa2op\x81\x01\xa1x", id="nested-int-key"),
    ],
)
def test_msgpack_decode_rejects_non_string_map_keys(payload):
    """Maps whose keys are not strings are a bad_request."""
    with pytest.raises(ProtocolError) as info:
        MSGPACK.decode(payload)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "map key" in info.value.message


def test_pack_writes_bytes_as_bin_and_str_as_str():
    """pack keeps str and bytes apart: str as msgpack str, bytes as the bin type."""
    assert pack("a") == b"\xa1a"
    assert pack(b"a") == b"\xc4\x01a"
    assert unpack(pack({"s": "a", "n": [1, None]})) == {"s": "a", "n": [1, None]}


def test_unpack_maps_decoder_failures_to_bad_request():
    """unpack turns every msgpack failure into a bad_request protocol error."""
    with pytest.raises(ProtocolError) as info:
        unpack(b"\x92\x01")
    assert info.value.code is ErrorCode.BAD_REQUEST


@CODECS
@pytest.mark.parametrize("count", [0, 1, 2, 15, 16, 20, 70_000])
def test_codec_join_decodes_to_the_list_of_frames(codec, count):
    """join of n encoded frames decodes to the list of those n frames (msgpack header sizes)."""
    frames = [{"op": "event", "seq": i, "data": {"i": i}} for i in range(count)]
    joined = codec.join([codec.encode(frame) for frame in frames])
    assert type(joined) is type(codec.encode({}))
    assert codec.decode(joined) == frames


@CODECS
def test_codec_join_of_one_is_a_one_item_array(codec):
    """A join of one frame is still an array frame, not the bare frame."""
    frame = {"op": "reply", "ref": 1, "ok": True, "data": {}}
    assert codec.decode(codec.join([codec.encode(frame)])) == [frame]


def test_json_join_is_plain_concatenation():
    """The JSON join wraps already-encoded frames in brackets without re-encoding them."""
    assert JSON.join(['{"a":1}', '{"b":2}']) == '[{"a":1},{"b":2}]'


def test_msgpack_join_prefixes_an_array_header():
    """The msgpack join is an array header followed by the encoded frames as they are."""
    parts = [pack({"a": 1}), pack({"b": 2})]
    assert MSGPACK.join(parts) == b"\x92" + parts[0] + parts[1]


@pytest.mark.parametrize("offered", [[], ()], ids=["list", "tuple"])
def test_negotiate_defaults_to_json(offered):
    """A client that offers no subprotocol gets JSON."""
    assert negotiate(offered) is JSON


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["chatgate.json"], JSON),
        (["chatgate.msgpack"], MSGPACK),
        (["chatgate.msgpack", "chatgate.json"], MSGPACK),
        (["chatgate.json", "chatgate.msgpack"], JSON),
        (["graphql-ws", "chatgate.msgpack", "chatgate.json"], MSGPACK),
    ],
)
def test_negotiate_follows_the_clients_order(offered, expected):
    """The first offered subprotocol we support wins, in the client's order."""
    assert negotiate(offered) is expected


@pytest.mark.parametrize(
    "offered", [["graphql-ws"], ["CHATGATE.JSON"], ["chatgate.cbor", "mqtt"], [""]]
)
def test_negotiate_unknown_only_is_none(offered):
    """When nothing offered is ours, there is no codec (names are case-sensitive)."""
    assert negotiate(offered) is None


@pytest.mark.parametrize(
    "value",
    [
        {b"bytes-key": 1},
        {"list": [1, b"bin"]},
        [b"bin"],
        {"ext": msgpack.ExtType(5, b"x")},
        {"when": msgpack.Timestamp(1, 0)},
        {"deep": [{"deeper": [b"bin"]}]},
    ],
    ids=["bytes-key", "bin-in-array", "top-array", "ext", "timestamp", "nested"],
)
def test_unpack_refuses_values_json_cannot_carry(value):
    """msgpack bin, ext and timestamp values, and bytes keys, are bad_request anywhere."""
    with pytest.raises(ProtocolError) as info:
        unpack(msgpack.packb(value, use_bin_type=True, strict_types=False))
    assert info.value.code is ErrorCode.BAD_REQUEST
