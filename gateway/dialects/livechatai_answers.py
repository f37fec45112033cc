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

``done`` carries exactly the body a request without ``streaming`` gets, and its ``response``
is the stored answer, which replaces the deltas (it differs from them when the bot turned
unsure, or failed mid-answer and its fallback text was stored instead). When nothing of the
answer is stored after the deltas began (a human took the conversation over mid-answer), or
nothing could be stored at all (the bot failed even to give its fallback, the process is
stopping), the stream ends instead with::

    event: error
    data: {"status": "error", "message": "…", "code": "control_lost" | "bot_failed" |
           "service_unavailable", "data": {"conversationId", "contactId", "messageId"}}

and the deltas so far must be dropped. The question stays stored.

With ``responseFormat: PLAIN`` the deltas carry the plain text as far as it is settled (the
Markdown's complete lines, reduced); ``done`` still wins over them (a table or an underlined
heading can change a line already sent, rarely).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from starlette.responses import StreamingResponse

from gateway.bot.turns import Turn, TurnResult
from gateway.dialects.plaintext import markdown_to_text
from protocol.codes import ErrorCode
from protocol.encoding import encode_json
from protocol.errors import GatewayError

__all__ = ["Answer", "Answered", "answer_stream", "success"]

SENT: Final = "Message sent successfully"
#: Turns that end with nothing to say and nothing wrong: the bot does not answer this one
#: (the conversation left ``bot_active`` first); as when no turn runs at all.
QUIET: Final = frozenset({"inactive"})
#: Turns that could not be answered at all, as LiveChatAI errors: (code, message).
FAILED: Final = {
    "failed": ("bot_failed", "the bot could not answer, and its fallback could not be stored"),
    "shutdown": ("service_unavailable", "the gateway is stopping; ask again"),
}
LOST: Final = ("control_lost", "a team member took the conversation over; drop the partial answer")


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
    """A stored question and the bot's turn answering it (``None``: no turn runs, because a
    human has the conversation or its bot does not answer in the gateway)."""

    conversation_id: str
    contact_id: str | None
    message_id: str
    turn: Turn | None
    plain: bool

    async def result(self) -> tuple[Answered, str | None]:
        """The answer, and why nothing was stored (``None``: stored, or no turn ran)."""
        if self.turn is None:
            return self._answered(None), None
        outcome = await self.turn.result()
        return self._answered(outcome), outcome.aborted

    async def body(self) -> dict[str, Any]:
        """The whole answer, as a request without ``streaming`` gets it.

        Raises:
            GatewayError: ``unavailable`` when nothing could be stored (``FAILED``).
        """
        answered, aborted = await self.result()
        if aborted in FAILED:
            raise GatewayError(
                ErrorCode.UNAVAILABLE, FAILED[aborted][1], details=self.ids(), temporary=True
            )
        return success(answered)

    def ids(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "contactId": self.contact_id,
            "messageId": self.message_id,
        }

    def _answered(self, outcome: TurnResult | None) -> Answered:
        message = None if outcome is None else outcome.message
        if outcome is None or message is None:
            return Answered(self.conversation_id, self.contact_id, self.message_id, None, None, ())
        response = markdown_to_text(message.content) if self.plain else message.content
        return Answered(
            conversation_id=self.conversation_id,
            contact_id=self.contact_id,
            message_id=self.message_id,
            response=response,
            response_message_id=message.id,
            # Only sources with an address, once each: an article without a url has no link.
            links=tuple(dict.fromkeys(link.url for link in outcome.links if link.url)),
        )


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
    index = 0
    if answer.turn is not None:
        deltas = _PlainDeltas() if answer.plain else None
        async for chunk in answer.turn.chunks():
            text = chunk if deltas is None else deltas.feed(chunk)
            if text:
                yield _event("delta", {"index": index, "text": text})
                index += 1
        answered, aborted = await answer.result()
        failure = None
        if aborted in FAILED:
            failure = FAILED[aborted]
        elif aborted is not None and aborted not in QUIET and index:
            # Deltas went out and none of them will be stored: the client must drop them.
            failure = LOST if aborted == "control_lost" else (aborted, "drop the partial answer")
        if failure is not None:
            code, message = failure
            error = {"status": "error", "message": message, "code": code, "data": answer.ids()}
            yield _event("error", error)
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
