"""Frames built once by the socket layer are the frames a WebSocket client reads."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from gateway.realtime.push import Push
from gateway.realtime.wire.framing import binary_frame, text_frame
from protocol.encoding import JSON, MSGPACK, unpack
from protocol.events import MessageCreated


def parse(data: bytes) -> Frame:
    """Parse ``data`` as a client does (server frames are unmasked)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_frames_of_every_length_form_parse_back(size: int) -> None:
    """Payloads at the edges of the 7-bit, 16-bit and 64-bit length forms."""
    payload = bytes(i % 251 for i in range(size))
    frame = parse(binary_frame(payload))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.BINARY, True, payload)
    text = ("é" * size)[:size].encode()
    frame = parse(text_frame(text))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, text)


def test_an_event_is_framed_once_per_codec_and_reads_back_whole() -> None:
    push = Push.from_event(MessageCreated("c1", 7, {"seq": 7, "content": "héllo " * 40}))
    json_frame = push.framed(JSON)
    assert push.framed(JSON) is json_frame, "the same bytes for every JSON socket"
    assert push.framed(MSGPACK) is push.framed(MSGPACK)
    assert JSON.decode(bytes(parse(json_frame).data)) == push.frame
    assert unpack(bytes(parse(push.framed(MSGPACK)).data)) == push.frame
    assert parse(json_frame).opcode is Opcode.TEXT
    assert parse(push.framed(MSGPACK)).opcode is Opcode.BINARY
