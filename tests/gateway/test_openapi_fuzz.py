"""The OpenAPI document is true: schemathesis fuzzes every operation of a live gateway.

A real uvicorn serves the app on a real SQLite store, for an org with a real API key (the
bearer token and Bland's raw ``authorization`` header). schemathesis reads ``/openapi.json``
from it and runs its examples, coverage and fuzzing phases, valid and invalid data, with
every check it has: no server error, status codes, content types, headers and bodies as
documented, valid data accepted, invalid data refused, auth enforced, 405 with ``Allow`` for
an undocumented method. Path ids it saw in earlier answers are tried again, so real
conversations, widgets and webhooks are read, changed and answered too.

Two things keep the run on this machine and true to what a schema can say:

- **Outbound URLs point here.** The gateway fetches attachment URLs and delivers webhooks
  and live-agent threads: each URL in a body (``url``, ``live_agent_endpoint_url``, a bot's
  ``base_url``) is sent as the URL of a local sink (a PNG for GET, 204 for POST), allowed for
  this run. A knowledge import of it is refused (``page_rejected``: no HTML page), as
  documented.
- **State the schema cannot see.** Some valid-looking requests are refused for what no
  JSON Schema can state: a lifecycle step the conversation's status forbids, a file or
  cursor the gateway never issued, ``until`` not after ``since``, an API key minting an
  agent token without naming the agent. ``REFUSED_BY_STATE`` lists them, each documented in
  the operation's answers; valid data must still be accepted with any other status.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import events, from_schema
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.settings import Settings
from protocol import urls
from tests.support import live_server, new_org

#: Examples per operation and phase; the whole run takes about 30 s on an idle 2-core machine.
MAX_EXAMPLES = 10
#: Well beyond that: a run that gets here is stopped and fails.
BUDGET_SECONDS = 240

#: What schemathesis expects valid data to get (its defaults).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
#: Operations that also refuse valid-looking data for a reason of state (module docstring).
REFUSED_BY_STATE = {
    "ListConversations": ["422"],  # a cursor the gateway did not issue
    "SearchConversations": ["422"],  # a cursor the gateway did not issue
    "IssueToken": ["422"],  # an API key's agent token names its agent_id
    "ReplayWebhookDeliveries": ["422"],  # until not after since
    # invalid_state; attachment_rejected (no such file); created_at outside the conversation's life
    "SendMessage": ["400", "422"],
    "UpdateConversation": ["400"],  # invalid_state
    "UpdateWidget": ["422"],  # identity_required before the widget has an identity secret
    "EndConversation": ["400"],  # invalid_state (ended already)
    "ReplayWebhookDelivery": ["400"],  # neither dead nor delivered
    # INVALID_PARAMETER (still with the bot; created_at outside the thread's life), THREAD_ENDED
    "BlandThreadWebhook": ["400"],
    "PingbackSendMessage": ["422"],  # invalid_state, attachment_rejected
    "AwardeeSendMessage": ["400", "422"],  # invalid_state, invalid_payload
    "AwardeeUpdateConversation": ["400"],  # invalid_state
    # invalid_request (Idempotency-Key with streaming); conversation_closed, invalid_image
    "LiveChatAIAsk": ["400", "422"],
    "UpdateBot": ["422"],  # llm or webhook settings for a bot of another kind
    "ListArticles": ["422"],  # a cursor the gateway did not issue
    "ImportArticle": ["422"],  # page_rejected: the sink serves an image, not a page
    "IssuePasswordReset": ["422"],  # the agent has no email to sign in with
    "AcceptInvitation": ["400"],  # invalid_link: a token the gateway did not issue
    "ResetPassword": ["400"],  # invalid_link: a token the gateway did not issue
}
URL_FIELDS = frozenset({"url", "live_agent_endpoint_url", "base_url"})
_URL = re.compile(urls.URL)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def _sink(request: Request) -> Response:
    if request.method == "GET":
        return Response(PNG, media_type="image/png")
    return Response(status_code=204)


@pytest.fixture
def sink() -> Iterator[str]:
    """Where every outbound URL of the run points: a PNG for GET, 204 for POST."""
    app = Starlette(routes=[Route("/{path:path}", _sink, methods=["GET", "POST"])])
    with live_server(app) as url:
        yield url + "/sink.png"


@pytest.fixture
def fuzzed_gateway(tmp_path: Path, sink: str) -> Iterator[tuple[str, str]]:
    """A live gateway for the run and its org's API key; rate limits out of the way."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    org = asyncio.run(new_org(database_url, "Fuzz"))
    plenty = 10**6
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key-of-decent-length!",
        org_requests_per_minute=plenty,
        visitor_requests_per_minute=plenty,
        address_requests_per_minute=plenty,
        address_sessions_per_minute=plenty,
        widget_sessions_per_minute=plenty,
        fetch_allowed_hosts="127.0.0.1",
        webhook_allowed_hosts="127.0.0.1",
        # An llm bot without a base_url of its own needs the gateway's (else 422).
        llm_base_url="http://127.0.0.1:9/v1",
    )
    with live_server(create_app(settings)) as base_url:
        yield base_url, org.api_key


@pytest.mark.timeout(BUDGET_SECONDS + 60)
def test_openapi_schemathesis_finds_no_failure(fuzzed_gateway: tuple[str, str], sink: str) -> None:
    """Every operation of /openapi.json passes every schemathesis check against the server."""
    base_url, api_key = fuzzed_gateway
    config = schemathesis.Config.from_dict(
        {
            "seed": 14,
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "no-shrink": True},
            "checks": {"enabled": True},
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": 30,
            "auth": {
                "openapi": {"bearer": {"bearer": api_key}, "blandApiKey": {"api_key": api_key}}
            },
            "operations": [
                {
                    "include-operation-id": name,
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *extra]}
                    },
                }
                for name, extra in REFUSED_BY_STATE.items()
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    documented = {
        f"{method.upper()} {path}"
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
    } - {"GET /openapi.json"}  # schemathesis does not test the document it reads

    def local(value: Any) -> Any:
        if isinstance(value, list):
            return [local(item) for item in value]
        if isinstance(value, dict):
            return {
                key: sink if key in URL_FIELDS and _is_url(item) else local(item)
                for key, item in value.items()
            }
        return value

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        case.body = local(case.body)

    schemathesis.hook(before_call)
    try:
        failures, tested = _run(schema)
    finally:
        schemathesis.hooks.unregister(before_call)
    assert not failures, "\n\n".join(failures)
    assert documented <= tested, f"never tested: {sorted(documented - tested)}"


def _is_url(value: Any) -> bool:
    # Only what is a URL already: a longer or broken one stays as invalid as it was.
    return isinstance(value, str) and len(value) <= 2048 and bool(_URL.match(value))


def _run(schema: Any) -> tuple[list[str], set[str]]:
    """Run the engine within the budget: the failures it reports, the operations it ran."""
    failures: list[str] = []
    tested: set[str] = set()
    deadline = time.monotonic() + BUDGET_SECONDS
    stream = from_schema(schema).execute()
    for event in stream:
        if time.monotonic() > deadline:
            stream.stop()
            failures.append(f"the run took longer than {BUDGET_SECONDS} s")
        if isinstance(event, events.ScenarioFinished):
            if event.skip_reason is None:
                tested.add(event.recorder.label)
            failures.extend(_failures(event.recorder))
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            failures.append(f"schemathesis failed: {event.exception!r}")
    return failures, tested


def _failures(recorder: Any) -> list[str]:
    found = []
    for case_id, checks in recorder.checks.items():
        for check in checks:
            info = check.failure_info
            if info is None or _labelled_positive(check.name, recorder.cases[case_id].value):
                continue
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction else None
            status = response.status_code if response else ""
            found.append(
                f"{recorder.label} [{check.name}] {status}: {info.failure.title}\n"
                f"{info.failure.message}\n{info.code_sample}"
            )
    return found


def _labelled_positive(check: str, case: Any) -> bool:
    """schemathesis cannot negate a multipart body (every part is text or a file): it falls
    back to a valid case, which it says is one ("Positive test case", no mutation), yet
    still holds it to ``negative_data_rejection``. Its own label settles it."""
    data = case.meta.phase.data if case.meta is not None else None
    return (
        check == "negative_data_rejection"
        and getattr(data, "description", None) == "Positive test case"
        and not getattr(data, "mutations", ())
    )
