"""Server-sent events read incrementally from bytes, as the WHATWG HTML standard defines the
``text/event-stream`` format (section 9.2.6, "Interpreting an event stream").

Lines end with CRLF, LF or CR; a blank line dispatches the event; a line starting with ``:``
is a comment (some OpenAI-compatible servers send ``: keep-alive``); ``data:`` lines of one
event are joined with ``\\n``; one space after the colon is dropped; ``id`` and ``retry`` are
of no use to a one-shot reader and are ignored. An event with no data is not dispatched.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["Event", "EventStreamError", "SseDecoder"]

_LINE_END = re.compile(r"\r\n|\r|\n")


class EventStreamError(ValueError):
    """The bytes are not an event stream this decoder accepts (not UTF-8, a line too long)."""


@dataclass(frozen=True, slots=True)
class Event:
    data: str
    #: The ``event:`` field; ``message`` when there is none.
    event: str = "message"


class SseDecoder:
    """Feed it the body's bytes as they arrive; it returns the events completed so far.

    Args:
        max_event: the most characters one event (its lines together) may hold; the buffer
            never grows past it.
    """

    def __init__(self, max_event: int = 256 * 1024) -> None:
        self._max_event = max_event
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._pending = ""
        self._data: list[str] = []
        self._size = 0
        self._event = ""
        self._started = False

    def feed(self, chunk: bytes) -> list[Event]:
        """The events that ``chunk`` completes, in order.

        Raises:
            EventStreamError: the stream is not UTF-8, or an event is too large.
        """
        try:
            text = self._utf8.decode(chunk)
        except UnicodeDecodeError as exc:
            raise EventStreamError(f"the stream is not UTF-8: {exc.reason}") from None
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        buffer = self._pending + text
        events: list[Event] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            if match.group() == "\r" and match.end() == len(buffer):
                break  # a CR at the end may be the first half of a CRLF: wait for more
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._pending = buffer[start:]
        if self._size + len(self._pending) > self._max_event:
            raise EventStreamError(f"an event is longer than {self._max_event} characters")
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max_event:
                raise EventStreamError(f"an event is longer than {self._max_event} characters")
        elif name == "event":
            self._event = value
        return None

    def _dispatch(self) -> Event | None:
        data, event = self._data, self._event or "message"
        self._data, self._size, self._event = [], 0, ""
        return Event("\n".join(data), event) if data else None
