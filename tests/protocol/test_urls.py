"""Settings an org configures: origins are origins, URLs are absolute http(s) with a host, and
lists name each value once."""

from __future__ import annotations

import re
from typing import Any

import pytest

from protocol.codes import ErrorCode
from protocol.commands import Attachment, CreateWebhook, CreateWidget, UpdateWebhook, UpdateWidget
from protocol.errors import ProtocolError
from protocol.fields import WebhookEventType
from protocol.urls import ORIGIN, URL
from protocol.validation import parse
from tests.protocol.samples import CONVERSATION

GOOD_ORIGINS = [
    "*",
    "https://shop.example",
    "http://localhost:8080",
    "https://a.b.shop.example:8443",
    "https://*.shop.example",
    "http://*.shop.example:3000",
    "http://127.0.0.1:5173",
    "https://[::1]:8443",
    "https://xn--bcher-kva.example",
    "https://Shop.Example",
]
BAD_ORIGINS = [
    "",
    "not a url",
    "javascript:alert(1)",
    "null",
    "shop.example",
    "ftp://shop.example",
    "https://shop.example/",
    "https://shop.example/path",
    "https://shop.example?q",
    "https://user@shop.example",
    "https://shop.example:0",
    "https://shop.example:65536",
    "https://shop.example:",
    "https://-shop.example",
    "https://shop..example",
    "https://*.example",
    "https://*",
    "https://a.*.example.com",
    "*.shop.example",
    "https://*.[::1]",
    "https://bücher.example",
    "https://shop.example\n",
    " https://shop.example",
]
GOOD_URLS = [
    "https://hooks.example/in",
    "http://hooks.example",
    "https://hooks.example:8443/a/b?x=1&y=2#frag",
    "https://user:pass@hooks.example/in",
    "http://10.0.0.5:9000/hook",
    "https://[2001:db8::1]/hook",
    "https://[::ffff:192.0.2.1]:443/",
    "http://testserver/v1/files/" + "ab" * 32,
]
BAD_URLS = [
    "http://X5!",
    "not a url",
    "javascript:alert(1)",
    "ftp://hooks.example/in",
    "//hooks.example/in",
    "/relative/path",
    "https://",
    "https:///path",
    "https://hooks example/in",
    "https://hooks.example/in put",
    "https://hooks.example/\x00",
    "https://hooks.example:99999/",
    "https://[zz::1]/",
    "https://hooks.example/in\n",
    "HTTPS://hooks.example/",
]


def error_of(cls: type[Any], payload: dict[str, Any]) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(cls, payload)
    return info.value


@pytest.mark.parametrize("origin", GOOD_ORIGINS)
def test_widget_accepts_origins(origin):
    """An origin, the wildcard or a subdomain pattern is accepted as given."""
    widget = parse(CreateWidget, {"name": "Site", "allowed_origins": [origin]})
    assert widget.allowed_origins == (origin,)


@pytest.mark.parametrize("origin", BAD_ORIGINS)
@pytest.mark.parametrize("cls", [CreateWidget, UpdateWidget])
def test_widget_refuses_what_is_not_an_origin(cls, origin):
    """Anything but an origin is a validation_error naming the entry, in plain words."""
    payload = {"name": "Site", "widget_id": CONVERSATION}
    error = error_of(cls, {**payload, "allowed_origins": ["https://ok.example", origin]})
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": "$.allowed_origins[1]"}
    if origin:  # the empty string breaks the length rule first
        assert error.message.startswith("Expected an origin: `*`, `http(s)://host[:port]`")
        assert "regex" not in error.message


@pytest.mark.parametrize("url", GOOD_URLS)
def test_urls_accept_absolute_http_urls(url):
    """Absolute http(s) URLs with a host are accepted for webhooks, platforms and files."""
    assert parse(CreateWebhook, {"url": url}).url == url
    assert parse(CreateWidget, {"name": "S", "live_agent_endpoint_url": url})
    assert parse(Attachment, {"url": url}).url == url


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    ("cls", "payload", "path"),
    [
        (CreateWebhook, {}, "$.url"),
        (UpdateWebhook, {"webhook_id": CONVERSATION}, "$.url"),
        (CreateWidget, {"name": "S"}, "$.live_agent_endpoint_url"),
        (UpdateWidget, {"widget_id": CONVERSATION}, "$.live_agent_endpoint_url"),
    ],
    ids=["create-webhook", "update-webhook", "create-widget", "update-widget"],
)
def test_urls_refuse_what_is_not_an_absolute_http_url(cls, payload, path, url):
    """A URL without a valid host, or not http(s), is a validation_error at its field."""
    error = error_of(cls, {**payload, path.removeprefix("$."): url})
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": path}
    assert error.message == f"Expected an absolute `http(s)://` URL with a valid host - at `{path}`"


def test_patterns_are_anchored_for_json_schema_too():
    """The patterns need no flags and end at the end of the string (ECMA 262 alike)."""
    for pattern in (ORIGIN, URL):
        assert pattern.startswith("^")
        assert pattern.endswith(r"(?![\s\S])")
        assert not re.match(pattern, "https://a.example\n")


@pytest.mark.parametrize("cls", [CreateWidget, UpdateWidget])
def test_widget_refuses_an_origin_listed_twice(cls):
    """An origin listed twice (in any case) is a validation_error at the second entry."""
    origins = ["https://a.example", "https://b.example", "https://A.example"]
    payload = {"name": "S", "widget_id": CONVERSATION, "allowed_origins": origins}
    error = error_of(cls, payload)
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": "$.allowed_origins[2]"}
    assert error.message == "'https://A.example' is listed twice - at `$.allowed_origins[2]`"


@pytest.mark.parametrize("cls", [CreateWebhook, UpdateWebhook])
def test_webhook_refuses_an_event_type_listed_twice(cls):
    """An event type listed twice is a validation_error at the second entry."""
    types = ["message.created", "conversation.ended", "message.created"]
    payload = {"url": "https://h.example", "webhook_id": CONVERSATION, "event_types": types}
    error = error_of(cls, payload)
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": "$.event_types[2]"}


@pytest.mark.parametrize("cls", [CreateWebhook, UpdateWebhook])
def test_webhook_refuses_unknown_event_types(cls):
    """An event type that does not exist is a validation_error at its entry."""
    payload = {"url": "https://h.example", "webhook_id": CONVERSATION}
    error = error_of(cls, {**payload, "event_types": ["message.created", "message.deleted"]})
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.details == {"path": "$.event_types[1]"}


def test_webhook_accepts_every_known_event_type_once():
    """Each known event type, listed once, is accepted in the order given."""
    known = list(reversed(WebhookEventType.__args__))
    hook = parse(CreateWebhook, {"url": "https://h.example", "event_types": known})
    assert hook.event_types == tuple(known)


def test_unchanged_lists_are_not_checked():
    """An update that leaves a list out changes nothing and passes."""
    assert parse(UpdateWidget, {"widget_id": CONVERSATION, "name": "New"}).name == "New"
    assert parse(UpdateWebhook, {"webhook_id": CONVERSATION, "fifo": True}).fifo is True
