"""The Python client's pure pieces: the seq log, the backoff, reading event frames."""

from __future__ import annotations

from gateway.client import Backoff, ClientError, MessageDelta, NewMessage, UnknownEvent, parse_event
from gateway.client.seqlog import Gap, SeqLog


def frame(seq: int) -> dict[str, object]:
    return {"op": "event", "event": "new_message", "conversation_id": "c", "seq": seq, "data": {}}


def test_seqlog_hands_out_each_seq_once_in_order_and_reports_the_gap() -> None:
    """An event ahead of a missing seq waits; repeats are dropped; the gap is named."""
    log = SeqLog(0)
    assert log.accept(1, frame(1)) == [frame(1)]
    assert log.accept(3, frame(3)) == []
    assert log.gap == Gap(1, 3)
    assert log.accept(1, frame(1)) == []
    assert log.fill([(2, None)]) == [frame(3)], "a seq with nothing to hand out still counts"
    assert log.last_seq == 3
    assert log.gap is None


def test_backoff_full_jitter_grows_to_its_cap_and_resets() -> None:
    """Delays are drawn from [0, ceiling]; the ceiling doubles up to the cap."""
    top = Backoff(initial=0.5, cap=4, random=lambda: 0.999999)
    assert [round(top.next(), 3) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    top.reset()
    assert top.attempts == 0 and round(top.next(), 3) == 0.5
    assert Backoff(random=lambda: 0.0).next() == 0.0


def test_parse_event_reads_known_events_and_keeps_unknown_ones() -> None:
    """Known events become their dataclass; an unknown or malformed one is kept as is."""
    message = {"id": "m", "conversation_id": "c", "seq": 4, "content": "hi"}
    assert parse_event({**frame(4), "data": message}) == NewMessage("c", 4, message)  # type: ignore[arg-type]
    delta = {"message_id": "m", "index": 2, "text": "", "done": True, "reason": "control_lost"}
    parsed = parse_event(
        {"event": "message.delta", "conversation_id": "c", "seq": None, "data": delta}
    )
    assert parsed == MessageDelta("c", "m", 2, "", True, "control_lost")
    odd = {"event": "presence", "conversation_id": "c", "seq": None, "data": {"x": 1}}
    assert parse_event(odd) == UnknownEvent("presence", "c", None, {"x": 1})


def test_client_error_from_a_refusal_close_code() -> None:
    """4001, 4003 and 4400 name the error code a caller checks."""
    assert ClientError.from_close(4001, "invalid token").code == "unauthorized"
    assert ClientError.from_close(4003, "").code == "forbidden"
    assert ClientError.from_close(4400, "").close_code == 4400
