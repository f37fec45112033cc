"""``/v1/knowledge``: articles, page imports through the SSRF-safe fetcher, and the search.

Pages come from a real local HTTP server on 127.0.0.2, which the gateway's settings allow
(``fetch_allowed_hosts``) as an operator would a private CDN; every other private address is
refused by the fetcher's real policy.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.support import bearer, live_server

PAGE_HOST = "127.0.0.2"
MAX_PAGE_BYTES = 64 * 1024

RETURNS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Returning an order | Acme Help</title></head>
<body>
<nav><ul>
  <li><a href="/">Home</a></li><li><a href="/pricing">Pricing plans</a></li>
  <li><a href="/careers">Careers at Acme</a></li>
</ul></nav>
<header><p>Acme Help Center: search our guides</p></header>
<main><article>
<h1>Returning an order</h1>
<p>You can return any order within 30 days of delivery. Pack the items in their original box
and print the prepaid return label from your account page.</p>
<h2>Refunds</h2>
<p>Once the parcel reaches our warehouse, we refund the full amount to your original payment
method within five working days.</p>
</article></main>
<footer><p>Copyright Acme 2026. Privacy policy. Subscribe to our newsletter.</p></footer>
</body></html>
"""

#: A single-page app's shell: the text only comes with its script.
APP_SHELL = """<!doctype html><html><head><title>Acme</title>
<script src="/app.js"></script></head><body><div id="root"></div></body></html>"""

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

#: What /changing serves; a test changes it to see a re-import update the article.
changing = {"html": RETURNS}


async def _page(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "returns":
        return HTMLResponse(RETURNS)
    if name == "changing":
        return HTMLResponse(changing["html"])
    if name == "app":
        return HTMLResponse(APP_SHELL)
    if name == "image":
        return Response(PNG, media_type="image/png")
    if name == "huge":
        return HTMLResponse("<html><body>" + "<p>filler text</p>" * 10_000 + "</body></html>")
    return Response("gone", status_code=404)


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    """``http://127.0.0.2:PORT/pages``, the help center's server."""
    app = Starlette(routes=[Route("/pages/{name}", _page)])
    with live_server(app, host=PAGE_HOST) as url:
        yield f"http://{PAGE_HOST}:{url.rsplit(':', 1)[1]}/pages"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-of-decent-length!",
        fetch_allowed_hosts=PAGE_HOST,
        knowledge_import_max_bytes=MAX_PAGE_BYTES,
    )


def create(client: TestClient, org: OrgCredentials, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/knowledge/articles", json=body, headers=bearer(org.api_key))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def search(client: TestClient, org: OrgCredentials, q: str) -> list[dict[str, Any]]:
    response = client.get("/v1/knowledge/search", params={"q": q}, headers=bearer(org.api_key))
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_knowledge_article_lifecycle(client: TestClient, org: OrgCredentials) -> None:
    """An article is created, read, changed and deleted, and the search follows it."""
    auth = bearer(org.api_key)
    article = create(
        client, org, title="Opening hours", body="We open at **nine**.", url="https://a.example/h"
    )
    assert article["source"] == "api" and article["url"] == "https://a.example/h"
    path = f"/v1/knowledge/articles/{article['id']}"
    assert client.get(path, headers=auth).json() == article
    [found] = search(client, org, "When do you open?")
    assert found == {
        "article_id": article["id"],
        "title": "Opening hours",
        "url": "https://a.example/h",
        "text": "We open at **nine**.",
        "score": 1.0,
    }
    changed = client.patch(path, json={"body": "We open at ten.", "url": None}, headers=auth)
    assert changed.status_code == 200
    assert (changed.json()["body"], changed.json()["url"]) == ("We open at ten.", None)
    assert search(client, org, "ten")[0]["text"] == "We open at ten."
    assert client.delete(path, headers=auth).json() == {"id": article["id"], "deleted": True}
    assert client.get(path, headers=auth).status_code == 404
    assert search(client, org, "open") == []


def test_knowledge_articles_are_listed_in_pages(client: TestClient, org: OrgCredentials) -> None:
    """Listing pages through the articles newest first with next_cursor."""
    ids = [create(client, org, title=f"Article {n}", body=f"Body {n}")["id"] for n in range(3)]
    auth = bearer(org.api_key)
    first = client.get("/v1/knowledge/articles", params={"limit": 2}, headers=auth).json()
    assert [a["id"] for a in first["data"]] == ids[:0:-1]
    rest = client.get(
        "/v1/knowledge/articles", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    ).json()
    assert ([a["id"] for a in rest["data"]], rest["next_cursor"]) == ([ids[0]], None)
    bad = client.get("/v1/knowledge/articles", params={"cursor": "nope"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


def test_knowledge_is_per_org_and_for_api_keys(
    client: TestClient, org: OrgCredentials, other_org: OrgCredentials
) -> None:
    """Another org neither reads, changes nor finds an org's articles."""
    article = create(client, org, title="Secret plan", body="The launch is in May.")
    path = f"/v1/knowledge/articles/{article['id']}"
    theirs = bearer(other_org.api_key)
    assert client.get(path, headers=theirs).status_code == 404
    assert client.patch(path, json={"title": "x"}, headers=theirs).status_code == 404
    assert client.delete(path, headers=theirs).status_code == 404
    assert search(client, other_org, "launch May") == []
    assert client.get("/v1/knowledge/articles").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"title": "   ", "body": "text"},
        {"title": "Title", "body": "\n\t "},
        {"title": "Title"},
        {"title": "Title", "body": "text", "url": "ftp://a.example/x"},
    ],
)
def test_knowledge_article_refuses_blank_or_bad_fields(
    client: TestClient, org: OrgCredentials, body: dict[str, Any]
) -> None:
    """A blank title or body, or a url that is not http(s), is a validation error."""
    response = client.post("/v1/knowledge/articles", json=body, headers=bearer(org.api_key))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_knowledge_search_takes_any_text(client: TestClient, org: OrgCredentials) -> None:
    """Operators and punctuation in q are plain separators; an empty q finds nothing."""
    create(client, org, title="Refunds", body="Refunds take five days.")
    assert search(client, org, '"refund* NEAR(days) -x:y & (a | !b)')[0]["title"] == "Refunds"
    assert search(client, org, "") == []


def test_knowledge_import_keeps_the_article_not_the_menu(
    client: TestClient, org: OrgCredentials, pages: str
) -> None:
    """An imported page becomes an article of its main text, with the page's title and url;
    its navigation, header and footer are left out; the search finds it."""
    url = f"{pages}/returns"
    response = client.post("/v1/knowledge/imports", json={"url": url}, headers=bearer(org.api_key))
    assert response.status_code == 200, response.text
    article = response.json()
    assert (article["source"], article["url"]) == ("import", url)
    assert article["title"].startswith("Returning an order")
    assert "within 30 days of delivery" in article["body"]
    assert "## Refunds" in article["body"]
    for boilerplate in ("Pricing plans", "Careers", "Copyright", "newsletter", "search our guides"):
        assert boilerplate not in article["body"]
    [best, *_] = search(client, org, "How long does a refund take?")
    assert best["url"] == url and "five working days" in best["text"]


def test_knowledge_import_again_updates_the_article(
    client: TestClient, org: OrgCredentials, pages: str
) -> None:
    """Importing a url again replaces its article's text (same id), not a second one."""
    url = f"{pages}/changing"
    auth = bearer(org.api_key)
    changing["html"] = RETURNS
    first = client.post("/v1/knowledge/imports", json={"url": url}, headers=auth).json()
    changing["html"] = RETURNS.replace("30 days", "60 days")
    try:
        second = client.post("/v1/knowledge/imports", json={"url": url}, headers=auth).json()
    finally:
        changing["html"] = RETURNS
    assert second["id"] == first["id"] and "within 60 days" in second["body"]
    listed = client.get("/v1/knowledge/articles", headers=auth).json()["data"]
    assert [a["id"] for a in listed] == [first["id"]]


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("app", "no_text"),
        ("image", "not_html"),
        ("huge", "too_large"),
        ("missing", "http_status"),
        ("http://127.0.0.1:9/pages/returns", "unsafe_address"),
        ("http://10.1.2.3/help", "unsafe_address"),
        ("http://[::1]/help", "unsafe_address"),
        ("http://no-such-host.invalid/help", "unresolvable"),
    ],
)
def test_knowledge_import_refusals_have_stable_reasons(
    client: TestClient, org: OrgCredentials, pages: str, where: str, reason: str
) -> None:
    """A page that cannot be imported answers 422 page_rejected naming the url and why;
    private addresses are refused before anything is sent, and nothing is stored."""
    url = where if "://" in where else f"{pages}/{where}"
    auth = bearer(org.api_key)
    response = client.post("/v1/knowledge/imports", json={"url": url}, headers=auth)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "page_rejected"
    assert error["details"] == {"url": url, "reason": reason}
    assert client.get("/v1/knowledge/articles", headers=auth).json()["data"] == []
