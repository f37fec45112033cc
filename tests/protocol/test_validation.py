"""validation.parse: decoded JSON in, a typed command out, or a validation_error."""

from __future__ import annotations

from uuid import UUID

import pytest

from protocol.codes import ErrorCode
from protocol.commands import ListConversations, ListMessages, MarkRead, SendMessage, SetTyping
from protocol.errors import ProtocolError
from protocol.states import Status
from protocol.validation import parse
from tests.protocol.samples import CONVERSATION

CID = UUID(CONVERSATION)


@pytest.mark.parametrize("payload", [[], [{"seq": 1}], "x", 5, None, True])
def test_parse_rejects_non_objects(payload):
    """A payload that is not an object is a validation_error without a path."""
    with pytest.raises(ProtocolError) as info:
        parse(MarkRead, payload)
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.message == "expected a JSON object"
    assert info.value.details is None


def test_parse_returns_the_typed_command():
    """A valid payload becomes an instance of the requested class."""
    assert parse(MarkRead, {"conversation_id": CONVERSATION, "seq": 3}) == MarkRead(CID, 3)


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"conversation_id": CONVERSATION, "after_seq": "5"}, "$.after_seq"),
        ({"conversation_id": CONVERSATION, "limit": "10"}, "$.limit"),
        ({"conversation_id": CONVERSATION, "after_seq": True}, "$.after_seq"),
        ({"conversation_id": CONVERSATION, "after_seq": 5.5}, "$.after_seq"),
    ],
)
def test_parse_is_strict_by_default(payload, path):
    """By default a string or bool never stands for an int, nor a fraction for an int."""
    with pytest.raises(ProtocolError) as info:
        parse(ListMessages, payload)
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details == {"path": path}


@pytest.mark.parametrize("seq", [5.0, 5e0, 0.5e1])
def test_parse_accepts_integers_written_with_a_fraction(seq):
    """An integer is any number without a fractional part (JSON Schema's reading): 5.0 is 5."""
    parsed = parse(MarkRead, {"conversation_id": CONVERSATION, "seq": seq})
    assert parsed == MarkRead(CID, 5) and type(parsed.seq) is int


def test_parse_keeps_free_form_numbers_as_written():
    """Only integer fields read 2.0 as 2: what metadata holds is kept as sent."""
    payload = {
        "conversation_id": CONVERSATION,
        "content": "x",
        "epoch": 2.0,
        "metadata": {"a": 2.0},
    }
    parsed = parse(SendMessage, payload)
    assert parsed.epoch == 2 and type(parsed.epoch) is int
    assert type(parsed.metadata["a"]) is float


def test_parse_strict_rejects_string_bool():
    """By default ``"true"`` is not a bool."""
    with pytest.raises(ProtocolError) as info:
        parse(SetTyping, {"conversation_id": CONVERSATION, "on": "true"})
    assert info.value.details == {"path": "$.on"}


def test_parse_lax_accepts_strings_for_numbers():
    """strict=False reads query-string numbers ("5") as ints."""
    query = {"conversation_id": CONVERSATION, "after_seq": "5", "limit": "20"}
    assert parse(ListMessages, query, strict=False) == ListMessages(CID, after_seq=5, limit=20)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_parse_lax_accepts_strings_for_bools(text, value):
    """strict=False reads query-string booleans."""
    parsed = parse(SetTyping, {"conversation_id": CONVERSATION, "on": text}, strict=False)
    assert parsed.on is value


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"conversation_id": CONVERSATION, "after_seq": "five"}, "$.after_seq"),
        ({"conversation_id": CONVERSATION, "after_seq": "-1"}, "$.after_seq"),
        ({"conversation_id": CONVERSATION, "limit": "0"}, "$.limit"),
        ({"conversation_id": CONVERSATION, "limit": "201"}, "$.limit"),
    ],
)
def test_parse_lax_still_checks_values(query, path):
    """strict=False converts strings but still rejects non-numbers and broken bounds."""
    with pytest.raises(ProtocolError) as info:
        parse(ListMessages, query, strict=False)
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details == {"path": path}


def test_parse_lax_reads_enums():
    """Query-string enum values convert in lax mode too."""
    parsed = parse(ListConversations, {"status": "open", "limit": "5"}, strict=False)
    assert parsed == ListConversations(status=Status.OPEN, limit=5)


def test_parse_ignores_unknown_fields():
    """Fields the class does not define are dropped, not rejected."""
    payload = {"conversation_id": CONVERSATION, "seq": 1, "op": "read", "ref": "c1", "x": [1]}
    assert parse(MarkRead, payload) == MarkRead(CID, 1)


def test_parse_reports_nested_paths():
    """The path of a nested failure points into the array element."""
    payload = {"conversation_id": CONVERSATION, "attachments": [{"url": "https://a"}, {}]}
    with pytest.raises(ProtocolError) as info:
        parse(SendMessage, payload)
    assert info.value.details == {"path": "$.attachments[1]"}
    assert info.value.message == "Object missing required field `url` - at `$.attachments[1]`"


def test_parse_error_message_is_the_validators_text():
    """The error message says what was expected and where."""
    with pytest.raises(ProtocolError) as info:
        parse(MarkRead, {"conversation_id": CONVERSATION, "seq": "1"})
    assert info.value.message == "Expected `int`, got `str` - at `$.seq`"


def test_parse_turns_post_init_failures_into_validation_errors():
    """A cross-field rule (content or attachments) is a validation_error, not a ValueError."""
    with pytest.raises(ProtocolError) as info:
        parse(SendMessage, {"conversation_id": CONVERSATION})
    assert info.value.code is ErrorCode.VALIDATION_ERROR
    assert info.value.details is None
    assert info.value.__cause__ is None
