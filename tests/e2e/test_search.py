"""``GET /v1/search`` on SQLite and PostgreSQL: staff find conversations by contact and
message text, newest activity first, paged; operator characters never fail a query;
visitors cannot search."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from tests.contracts.search import HOSTILE
from tests.support import api, bearer

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/chatgate.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_search_finds_conversations_for_staff(
    http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    key = org.api_key
    named = await api(
        http,
        "POST",
        "/v1/conversations",
        key,
        json={"contact": {"name": "Zoe Quinn", "email": "zoe@quinn.example"}},
    )
    ids = []
    for text in ("where is my invoice?", "invoice paid, thanks", "nothing to see"):
        conversation = await api(http, "POST", "/v1/conversations", key, json={})
        await api(
            http,
            "POST",
            f"/v1/conversations/{conversation['id']}/messages",
            key,
            json={"content": text, "role": "visitor"},
        )
        ids.append(conversation["id"])
    await api(
        http,
        "POST",
        f"/v1/conversations/{ids[2]}/messages",
        key,
        json={"content": "invoice dispute, handle with care", "private": True},
    )

    found = await api(http, "GET", "/v1/search", key, params={"q": "INVOI", "limit": 2})
    assert [r["conversation"]["id"] for r in found["data"]] == [ids[2], ids[1]]
    assert found["data"][0]["match"] == {
        "kind": "message",
        "text": "invoice dispute, handle with care",
        "seq": 2,
        "private": True,
    }
    more = await api(
        http, "GET", "/v1/search", key, params={"q": "invoice", "cursor": found["next_cursor"]}
    )
    assert [r["conversation"]["id"] for r in more["data"]] == [ids[0]]
    assert more["next_cursor"] is None

    by_contact = await api(http, "GET", "/v1/search", key, params={"q": "quinn.example"})
    (hit,) = by_contact["data"]
    assert hit["conversation"]["id"] == named["id"]
    assert hit["match"] == {
        "kind": "contact",
        "text": "Zoe Quinn zoe@quinn.example",
        "seq": None,
        "private": False,
    }

    for q in [q for q in HOSTILE if q.strip()]:
        answered = await http.get("/v1/search", params={"q": q}, headers=bearer(key))
        assert answered.status_code == 200, (q, answered.text)
    bad = await http.get("/v1/search", params={"q": "x", "cursor": "nope"}, headers=bearer(key))
    assert bad.status_code == 422


async def test_visitors_cannot_search(http: httpx.AsyncClient, org: OrgCredentials) -> None:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    refused = await http.get("/v1/search", params={"q": "x"}, headers=bearer(session["token"]))
    assert refused.status_code == 403
