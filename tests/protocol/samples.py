"""Shared inputs for the protocol tests: both codecs, ids, and a wire round trip."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.encoding import JSON, MSGPACK, Codec
from protocol.frames import ClientFrame, read_frame

#: Parametrize a test over both codecs.
CODECS = pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])

CONVERSATION = "6f1c2a9e-0b7d-4c1e-9a55-3d2f8e4b7c10"
OTHER_CONVERSATION = "0d8b6c52-91f4-4c8e-8a51-7b2e9f3c4d01"
AGENT = "c3a1e0f2-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
SHA256 = "ab" * 32


def wire_frame(codec: Codec, obj: Any) -> ClientFrame:
    """Encode ``obj`` with ``codec``, then decode and read it as a client frame would be."""
    return read_frame(codec.decode(codec.encode(obj)))


#: A field left out of a frame (as opposed to sent as null).
ABSENT = object()
