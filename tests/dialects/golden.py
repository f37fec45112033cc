"""Golden-file contract cases for the vendor dialects.

A golden file (``golden/<dialect>.json``) is a list of cases built from the vendor's documented
shapes. Each case names a starting state, optional ``before`` requests, one request, and the
exact response expected: status, headers, and the body field by field (every key present,
no key more). Values in expectations may be:

- ``"{name}"`` (or a string containing it): replaced by a value of the setup, e.g.
  ``{conversation_id}``, ``{org_id}``, ``{widget_id}``, ``{contact_id}``, ``{agent_id}``,
  ``{api_key}``, ``{other_api_key}``, ``{agent_token}``, ``{images}`` (the local image server),
  ``{base}`` (the gateway's base URL), ``{sent_at}`` (a second ago, written with a ``+02:00``
  offset and microseconds) and ``{sent_at_wire}`` (the same instant in the wire form), or one
  saved by a ``before`` request;
- ``"<uuid>"``, ``"<timestamp>"``, ``"<sha256>"``, ``"<string>"`` (non-empty),
  ``"<digits>"``, ``"<int>"``: any value of that form. A ``<timestamp>`` has the one wire form
  of every chatgate surface, as in the vendors' own examples: RFC 3339 in UTC with exactly
  three fractional digits and ``Z`` (``2025-12-10T19:27:02.941Z``).

A ``before`` step's ``save`` names values of its answer by key, or by a dotted path
(``data.conversationId``). A streamed answer (``text/event-stream``) is expected as
``"events": [{"event", "data"}]`` instead of ``"body"``; ``{"event": "delta*", "text": T}``
stands for one or more ``delta`` events, indexed 0, 1, 2..., whose texts join to ``T`` (how a
bot cuts its answer into chunks is its own business). ``after`` requests run once the case's
answer is checked, each with its own ``expect``: what the other surfaces show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.instants import WIRE_INSTANT

__all__ = ["Case", "load_cases", "match", "match_events", "parse_events", "pick", "substitute"]

GOLDEN = Path(__file__).parent / "golden"
_VAR = re.compile(r"{(\w+)}")
_FORMS = {
    "<uuid>": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "<sha256>": re.compile(r"^[0-9a-f]{64}$"),
    "<string>": re.compile(r"^[\s\S]+$"),
    "<digits>": re.compile(r"^[0-9]+$"),
    "<timestamp>": WIRE_INSTANT,
}


@dataclass(frozen=True)
class Case:
    name: str
    #: Conversation status to start from: bot_active, agent_requested, open, closed.
    status: str
    request: dict[str, Any]
    expect: dict[str, Any]
    before: list[dict[str, Any]] = field(default_factory=list)
    #: Org plan: e.g. {"monthly_message_limit": 1}.
    org: dict[str, Any] = field(default_factory=dict)
    #: Settings for a dedicated gateway, e.g. {"org_requests_per_minute": 2}.
    settings: dict[str, Any] = field(default_factory=dict)
    #: Messages the visitor sends before the request (to fill a quota, say).
    visitor_messages: int = 0
    #: Requests after the case's own, each with what it must answer.
    after: list[dict[str, Any]] = field(default_factory=list)


def load_cases(dialect: str) -> list[Case]:
    raw = orjson.loads((GOLDEN / f"{dialect}.json").read_bytes())
    return [Case(**case) for case in raw]


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """``value`` with every ``{name}`` replaced, recursively."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def match(actual: Any, expected: Any, path: str = "$") -> None:
    """Assert ``actual`` has exactly the shape and values of ``expected``."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        assert set(actual) == set(expected), (
            f"{path}: keys {sorted(actual)} != expected {sorted(expected)}"
        )
        for key, value in expected.items():
            match(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            match(a, e, f"{path}[{i}]")
    elif expected == "<int>":
        assert isinstance(actual, int) and not isinstance(actual, bool), f"{path}: {actual!r}"
    elif isinstance(expected, str) and expected in _FORMS:
        assert isinstance(actual, str) and _FORMS[expected].match(actual), (
            f"{path}: {actual!r} is not {expected}"
        )
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def pick(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``document`` (``data.conversationId``)."""
    for key in path.split("."):
        document = document[key]
    return document


def parse_events(text: str) -> list[dict[str, Any]]:
    """Server-Sent Events as ``{"event", "data"}``, ``data`` decoded as JSON."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append({"event": fields["event"], "data": orjson.loads(fields["data"])})
    return events


def match_events(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Assert the stream ``actual`` is ``expected`` (``delta*``: see the module docstring)."""
    at = 0
    for i, want in enumerate(expected):
        if want["event"] == "delta*":
            deltas = []
            while at < len(actual) and actual[at]["event"] == "delta":
                deltas.append(actual[at]["data"])
                at += 1
            assert deltas, f"events[{i}]: no delta at {actual[at:]!r}"
            assert [d["index"] for d in deltas] == list(range(len(deltas))), deltas
            assert all(set(d) == {"index", "text"} and d["text"] for d in deltas), deltas
            match("".join(d["text"] for d in deltas), want["text"], f"events[{i}].text")
            continue
        assert at < len(actual), f"events[{i}]: the stream ended before {want!r}"
        match(actual[at], want, f"events[{i}]")
        at += 1
    assert at == len(actual), f"events past the expected ones: {actual[at:]!r}"
