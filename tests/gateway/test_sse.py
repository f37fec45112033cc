"""The event-stream decoder the ``llm`` bot reads its answers with (WHATWG HTML 9.2.6)."""

from __future__ import annotations

import pytest

from gateway.bot.sse import Event, EventStreamError, SseDecoder


def decode(*chunks: bytes) -> list[Event]:
    decoder = SseDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_sse_data_lines_and_blank_line_dispatch() -> None:
    """``data:`` lines are joined with newlines; a blank line ends the event; one space
    after the colon is dropped, a second is kept."""
    got = decode(b"data: one\ndata:  two\ndata:three\n\ndata: [DONE]\n\n")
    assert got == [Event("one\n two\nthree"), Event("[DONE]")]


def test_sse_line_ends_crlf_cr_lf_even_split_between_chunks() -> None:
    """CRLF, CR and LF all end lines, also when a CRLF is split between two reads."""
    assert decode(b"data: a\r", b"\n\r\n", b"data: b\r\r", b"data: c\n\n") == [
        Event("a"),
        Event("b"),
        Event("c"),
    ]


def test_sse_events_split_anywhere_and_multibyte_characters() -> None:
    """An event split at any byte, even inside a UTF-8 character, decodes whole."""
    whole = 'data: {"content": "Grüße 👋"}\n\n'.encode()
    for cut in range(1, len(whole)):
        assert decode(whole[:cut], whole[cut:]) == [Event('{"content": "Grüße 👋"}')]


def test_sse_comments_event_names_ids_and_empty_events() -> None:
    """Comments, ``id`` and ``retry`` are skipped; ``event:`` names the event; an event
    with no data is not dispatched; a leading BOM is dropped."""
    got = decode(b"\xef\xbb\xbf: keep-alive\n\nid: 7\nretry: 10\n\nevent: error\ndata: x\n\n")
    assert got == [Event("x", "error")]


def test_sse_unfinished_event_is_not_dispatched() -> None:
    """Data with no blank line after it (a stream cut off) is not an event."""
    assert decode(b"data: one\n\ndata: two\n") == [Event("one")]


def test_sse_refuses_invalid_utf8_and_oversized_events() -> None:
    """Bytes that are not UTF-8, or an event past the limit, are an error, with or without
    line ends in it."""
    with pytest.raises(EventStreamError, match="not UTF-8"):
        decode(b"data: \xff\n\n")
    with pytest.raises(EventStreamError, match="longer than 16"):
        SseDecoder(max_event=16).feed(b"data: " + b"x" * 20)
    with pytest.raises(EventStreamError, match="longer than 16"):
        SseDecoder(max_event=16).feed(b"data: 12345678\ndata: 12345678\n")
