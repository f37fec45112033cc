"""LiveChatAI's answer: the bot's turn as one JSON body, or as a stream of Server-Sent Events.

The stream (``text/event-stream``; LiveChatAI does not publish its own, this is chatgate's)::

    event: start
    data: {"conversationId": "…", "contactId": "…", "messageId": "…"}

    event: delta
    data: {"index": 0, "text": "Our business "}

    event: delta
    data: {"index": 1, "text": "hours are…"}

    event: done
    data: {"status": "success", "message": "Message sent successfully", "data": {…}}

``done`` carries exactly the body a request without ``streaming`` gets. When the bot's answer
is not stored after all (a human took the conversation over mid-answer, or the bot failed
without a fallback), the stream ends instead with::

    event: error
    data: {"status": "error", "message": "…", "code": "control_lost" | "bot_failed",
           "data": {"conversationId", "contactId", "messageId"}}

and the deltas so far must be dropped: nothing of them was stored. The question was.

With ``responseFormat: PLAIN`` the deltas carry the plain text as far as it is settled (whole
lines of the Markdown, reduced); ``done``'s ``response`` is always the whole answer and wins
over the deltas (a table or a heading underlined on its next line can change the text of a
line already sent, rarely).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from starlette.responses import StreamingResponse

from gateway.dialects.plaintext import markdown_to_text
from protocol.encoding import encode_json
from storage.models import Message

__all__ = ["Answer", "Answered", "Turn", "TurnResult", "answer_stream", "success"]

SENT: Final = "Message sent successfully"
#: Why an answer was not stored, as the stream's error event says it.
ABORTED: Final = {
    "control_lost": "a team member took the conversation over; the partial answer is void",
    "failed": "the bot could not answer; the partial answer is void",
}
ABORTED_CODES: Final = {"control_lost": "control_lost", "failed": "bot_failed"}


class Cited(Protocol):
    @property
    def url(self) -> str | None: ...


class TurnResult(Protocol):
    """What this module reads of a finished turn (``gateway.bot.turns.TurnResult``)."""

    @property
    def message(self) -> Message | None: ...
    @property
    def links(self) -> Sequence[Cited]: ...
    @property
    def aborted(self) -> str | None: ...


class Turn(Protocol):
    """What this module uses of the bot's turn (``gateway.bot.turns.Turn``)."""

    def chunks(self) -> AsyncIterator[str]: ...
    async def result(self) -> TurnResult: ...


@dataclass(frozen=True, slots=True)
class Answered:
    """What ``data`` of a success says."""

    conversation_id: str
    contact_id: str | None
    message_id: str
    response: str | None
    response_message_id: str | None
    links: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "contactId": self.contact_id,
            "response": self.response,
            "messageId": self.message_id,
            "responseMessageId": self.response_message_id,
            "links": [{"link": url, "type": "WEBSITE"} for url in self.links],
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """A stored question and the bot's turn answering it (``None``: no turn, the bot does not
    handle this conversation any more, or it has no bot)."""

    conversation_id: str
    contact_id: str | None
    message_id: str
    turn: Turn | None
    plain: bool

    async def result(self) -> tuple[Answered, str | None]:
        """The answer, and why it was not stored (``None`` when it was, or no turn ran)."""
        if self.turn is None:
            return self._answered(None), None
        outcome = await self.turn.result()
        return self._answered(outcome), outcome.aborted

    def _answered(self, outcome: TurnResult | None) -> Answered:
        message = outcome.message if outcome is not None else None
        response = None if message is None else message.content
        if response is not None and self.plain:
            response = markdown_to_text(response)
        links = () if outcome is None or message is None else outcome.links
        return Answered(
            conversation_id=self.conversation_id,
            contact_id=self.contact_id,
            message_id=self.message_id,
            response=response,
            response_message_id=None if message is None else message.id,
            # Only sources with an address; an article without a url cites nothing to link.
            links=tuple(dict.fromkeys(link.url for link in links if link.url)),
        )

    def ids(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "contactId": self.contact_id,
            "messageId": self.message_id,
        }


def success(answered: Answered) -> dict[str, Any]:
    return {"status": "success", "message": SENT, "data": answered.to_wire()}


def answer_stream(answer: Answer) -> StreamingResponse:
    """The answer as Server-Sent Events (module docstring)."""
    return StreamingResponse(
        _events(answer),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(answer: Answer) -> AsyncIterator[bytes]:
    yield _event("start", answer.ids())
    if answer.turn is not None:
        deltas = _PlainDeltas() if answer.plain else None
        index = 0
        async for chunk in answer.turn.chunks():
            text = chunk if deltas is None else deltas.feed(chunk)
            if text:
                yield _event("delta", {"index": index, "text": text})
                index += 1
        answered, aborted = await answer.result()
        if aborted is not None:
            yield _event(
                "error",
                {
                    "status": "error",
                    "message": ABORTED.get(aborted, "the answer is void"),
                    "code": ABORTED_CODES.get(aborted, aborted),
                    "data": answer.ids(),
                },
            )
            return
        if deltas is not None and answered.response is not None:
            rest = deltas.finish(answered.response)
            if rest:
                yield _event("delta", {"index": index, "text": rest})
    else:
        answered, _ = await answer.result()
    yield _event("done", success(answered))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + encode_json(data) + b"\n\n"


class _PlainDeltas:
    """Plain-text deltas of a Markdown stream: the text of its complete lines, reduced, as far
    as it extends what was sent already."""

    def __init__(self) -> None:
        self._markdown = ""
        self._sent = ""

    def feed(self, chunk: str) -> str:
        self._markdown += chunk
        complete, newline, _ = self._markdown.rpartition("\n")
        if not newline:
            return ""
        return self._extend(markdown_to_text(complete))

    def finish(self, whole: str) -> str:
        """The rest of ``whole`` (the final plain answer), if the deltas were its beginning."""
        return self._extend(whole)

    def _extend(self, text: str) -> str:
        if not text.startswith(self._sent):
            return ""
        rest, self._sent = text[len(self._sent) :], text
        return rest
