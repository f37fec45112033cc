"""The one wire form of an instant (``format_instant``), and both codecs writing it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import msgpack
import orjson
import pytest
from hypothesis import example, given, settings, strategies as st

from protocol.encoding import JSON, MSGPACK, encode_json, format_instant, pack, unpack

WIRE_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

PROPERTY = settings(max_examples=500, deadline=None)

#: Whole seconds, whole milliseconds and any microsecond, so ".000" and truncation both occur.
microseconds = st.one_of(
    st.just(0),
    st.integers(0, 999).map(lambda ms: ms * 1000),
    st.sampled_from([999, 999_999, 1, 500, 999_500]),
    st.integers(0, 999_999),
)
#: UTC instants over the whole supported range (a day inside each end, so that any offset
#: below stays within years 1 to 9999).
utc_instants = st.builds(
    lambda at, us: at.replace(microsecond=us, tzinfo=UTC),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    microseconds,
)
#: Offsets of any size a ``datetime`` accepts, seconds included (as in historic local times).
offsets = st.one_of(
    st.just(UTC),
    st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m))),
    st.integers(-86_399, 86_399).map(lambda s: timezone(timedelta(seconds=s))),
)
#: The same instants as seen in any offset.
instants = st.builds(lambda at, tz: at.astimezone(tz), utc_instants, offsets)


def truncated(at: datetime) -> datetime:
    """The instant of ``at`` cut to the millisecond, in UTC."""
    utc = at.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@PROPERTY
@given(instants)
@example(datetime(2025, 12, 10, 19, 27, 2, 941_000, tzinfo=UTC))
@example(datetime(2025, 12, 10, 19, 27, 28, tzinfo=UTC))
@example(datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(1, 1, 1, tzinfo=UTC))
@example(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
def test_format_instant_is_one_fixed_form_of_the_truncated_instant(at: datetime) -> None:
    """Any aware instant, whole seconds included, is written as YYYY-MM-DDTHH:MM:SS.mmmZ and
    reads back as that instant cut (not rounded) to the millisecond."""
    text = format_instant(at)
    assert WIRE_INSTANT.match(text), text
    assert datetime.fromisoformat(text) == truncated(at)


@PROPERTY
@given(instants, instants)
def test_format_instant_sorts_as_the_instants_do(a: datetime, b: datetime) -> None:
    """Comparing two wire strings compares their (millisecond) instants."""
    assert (format_instant(a) < format_instant(b)) == (truncated(a) < truncated(b))
    assert (format_instant(a) == format_instant(b)) == (truncated(a) == truncated(b))


def test_format_instant_examples() -> None:
    """Bland's example keeps its form; a whole second gets .000; 999999 us is .999, not the
    next second; an offset is converted to UTC."""
    assert format_instant(datetime(2025, 12, 10, 19, 27, 2, 941_000, tzinfo=UTC)) == (
        "2025-12-10T19:27:02.941Z"
    )
    assert format_instant(datetime(2025, 12, 10, 19, 27, 28, tzinfo=UTC)) == (
        "2025-12-10T19:27:28.000Z"
    )
    assert format_instant(datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == (
        "2025-12-31T23:59:59.999Z"
    )
    paris = timezone(timedelta(hours=1))
    assert format_instant(datetime(2026, 1, 1, 0, 30, 0, 5_000, tzinfo=paris)) == (
        "2025-12-31T23:30:00.005Z"
    )
    assert format_instant(datetime(12, 3, 4, 5, 6, 7, tzinfo=UTC)) == "0012-03-04T05:06:07.000Z"


def test_format_instant_refuses_a_naive_datetime() -> None:
    """A datetime without an offset names no instant: ValueError, never a guess."""
    with pytest.raises(ValueError, match="naive"):
        format_instant(datetime(2025, 12, 10, 19, 27, 2))


@PROPERTY
@given(instants)
def test_codecs_write_a_datetime_in_the_wire_form(at: datetime) -> None:
    """A datetime inside a frame goes out as the wire string in JSON (codec and HTTP bodies)
    and in msgpack (codec and broker envelope), never as an encoder's own form."""
    frame = {"data": {"created_at": at, "list": [at]}}
    expected = {"data": {"created_at": format_instant(at), "list": [format_instant(at)]}}
    assert orjson.loads(encode_json(frame)) == expected
    assert JSON.decode(JSON.encode(frame)) == expected
    assert MSGPACK.decode(MSGPACK.encode(frame)) == expected
    assert unpack(pack(frame)) == expected


def test_codecs_send_no_msgpack_timestamp() -> None:
    """msgpack frames carry the instant as a str, not a timestamp extension a client would have
    to understand."""
    raw = MSGPACK.encode({"at": datetime(2025, 12, 10, 19, 27, 28, tzinfo=UTC)})
    assert msgpack.unpackb(raw, timestamp=3) == {"at": "2025-12-10T19:27:28.000Z"}


def test_codecs_still_refuse_what_json_cannot_carry() -> None:
    """Only datetimes get the hook: any other non-JSON value is still an encoding error."""
    with pytest.raises(TypeError):
        encode_json({"x": {1, 2}})
    with pytest.raises(TypeError):
        pack({"x": {1, 2}})
    with pytest.raises(TypeError):
        encode_json({"x": datetime(2025, 1, 1).date()})
