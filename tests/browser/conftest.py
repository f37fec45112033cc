"""The chat widget in a real browser: Debian's chromium driven by Playwright (sync API), a real
gateway on a free port, and test pages served from other origins that embed the widget.

Chromium is a service like PostgreSQL: without ``/usr/bin/chromium`` (``CHATGATE_CHROMIUM``
names another) the browser tests skip loudly, and fail with ``CHATGATE_REQUIRE_SERVICES=1``.
Screenshots go to a directory under pytest's temporary directory (printed at the end of the
run); ``CHATGATE_UPDATE_SCREENSHOTS=1`` also copies the open widget to ``docs/widget-open.png``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.conftest import service_missing
from tests.reports import section
from tests.support import bearer, live_server, new_org, timeout

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

    # Waiting assertions (expect) wait up to this long, scaled like every wait of the suite.
    expect.set_options(timeout=timeout(15) * 1000)
except ImportError:  # pragma: no cover - the dev extra has it
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("CHATGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
UPDATE_SCREENSHOTS = os.environ.get("CHATGATE_UPDATE_SCREENSHOTS") == "1"
#: Another build of the web bundles to test (a directory like gateway/web/dist); by default the
#: committed one.
WEB_DIST = os.environ.get("CHATGATE_TEST_WEB_DIST", "")
DOCS = Path(__file__).resolve().parents[2] / "docs"

#: What the run measured (reported at the end, never asserted as a timing).
REPORT = section("chat widget in chromium")

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a thread of its own: Playwright's sync API owns the
    event loop of the test's thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def until(probe: Callable[[], T | None], seconds: float, every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy, failing after ``seconds`` (scaled)."""
    deadline = time.monotonic() + timeout(seconds)
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout(seconds):.1f}s: {probe}")
        time.sleep(every)


# The page records when the widget's script has loaded and when the widget's shadow root first
# shows a button (the launcher), for the launcher timing the test reports.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop</title>
<script>
window.__marks = {{}};
function watchLauncher() {{
  (function frame() {{
    const host = document.getElementById("chatgate-widget");
    const root = host && host.shadowRoot;
    const shown = root && [...root.querySelectorAll("button")].some(
      (b) => b.getBoundingClientRect().width > 0);
    if (shown) window.__marks.launcherShown = performance.now();
    else requestAnimationFrame(frame);
  }})();
}}
document.addEventListener("load", (event) => {{
  const el = event.target;
  if (el instanceof HTMLScriptElement && el.src.endsWith("/widget.js")) {{
    window.__marks.scriptLoaded = performance.now();
    watchLauncher();
  }}
}}, true);
</script>
</head>
<body>
<h1>Welcome to the shop</h1>
<p>A page of a customer's site, on its own origin, that embeds the chat widget.</p>
<script src="{gateway}/widget.js" data-widget-id="{widget_id}"{language} async></script>
</body>
</html>
"""


class PageServer:
    """Serves ``/?widget=ID[&lang=fr]``: a page embedding that widget of ``gateway``, from its
    own origin (``http://127.0.0.1:PORT``)."""

    def __init__(self, gateway: str) -> None:
        page_gateway = gateway

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                widget_id = query.get("widget", [""])[0]
                gateway = query.get("gateway", [page_gateway])[0]
                language = query.get("lang", [""])[0]
                body = PAGE.format(
                    gateway=html.escape(gateway),
                    widget_id=html.escape(widget_id),
                    language=f' data-language="{html.escape(language)}"' if language else "",
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, widget_id: str, language: str | None = None, gateway: str | None = None) -> str:
        """The page of ``widget_id``, its script from ``gateway`` (by default the gateway's)."""
        return (
            f"{self.origin}/?widget={widget_id}"
            + (f"&lang={language}" if language else "")
            + (f"&gateway={gateway}" if gateway else "")
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout(10))


class NetworkLink:
    """A TCP relay to the gateway that a test can cut and restore: the visitor's network.

    Chromium's offline emulation (``context.set_offline``) fails new requests but leaves open
    WebSockets running (Playwright issue 4910), as a real lost network does not: cutting the
    link closes every connection through it and refuses new ones until it is restored.
    """

    def __init__(self, target: str) -> None:
        host, port = urlsplit(target).hostname or "", urlsplit(target).port or 80
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._up = True
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> None:
        """Close every connection through the link, and refuse new ones."""
        self._up = False
        with self._lock:
            sockets = list(self._sockets)
        self._drop(*sockets)

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
        self._thread.join(timeout(10))


@dataclass
class Gateway:
    url: str
    database_url: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium per module (each test gets a fresh context)."""
    if sync_playwright is None:
        service_missing("playwright is not installed (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        service_missing(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A real gateway (uvicorn, SQLite) on a free port, serving the committed widget.js."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('gateway')}/chatgate.db"
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret-key-of-decent-length!",
        web_dist_dir=WEB_DIST,
    )
    with live_server(create_app(settings)) as url:
        yield Gateway(url, database_url)


@pytest.fixture(scope="module")
def shop_pages(gateway: Gateway) -> Iterator[PageServer]:
    """The customer's site: the origin the widget allows."""
    server = PageServer(gateway.url)
    yield server
    server.close()


@pytest.fixture(scope="module")
def stranger_pages(gateway: Gateway) -> Iterator[PageServer]:
    """Another site (another port, so another origin) that the widget does not allow."""
    server = PageServer(gateway.url)
    yield server
    server.close()


@pytest.fixture
def network(gateway: Gateway) -> Iterator[NetworkLink]:
    """The visitor's network to the gateway, which the test can cut."""
    link = NetworkLink(gateway.url)
    yield link
    link.close()


@pytest.fixture
def org(gateway: Gateway, shop_pages: PageServer) -> OrgCredentials:
    """A fresh org whose widget allows the shop's origin only."""
    return run_async(new_org(gateway.database_url, "Shop", origins=(shop_pages.origin,)))


@pytest.fixture
def staff(gateway: Gateway, org: OrgCredentials) -> Iterator[Staff]:
    """The org's side of the conversation, through REST with its API key."""
    with httpx.Client(base_url=gateway.url, timeout=timeout(30)) as http:
        yield Staff(http, org)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(timeout(15) * 1000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots(tmp_path_factory.mktemp("widget-screenshots"))


class Screenshots:
    """Saves the widget's states as test artifacts (``open`` also to the docs, on request)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        REPORT["screenshots"] = str(directory)

    def save(self, page: Page, state: str) -> Path:
        path = self.directory / f"widget-{state}.png"
        page.screenshot(path=path)
        if state == "open" and UPDATE_SCREENSHOTS:
            shutil.copyfile(path, DOCS / "widget-open.png")
        return path


class Staff:
    """REST calls an org makes with its API key; each must succeed."""

    def __init__(self, http: httpx.Client, org: OrgCredentials) -> None:
        self.http = http
        self.org = org

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, path, headers=bearer(self.org.api_key), **kw)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()

    def conversations(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.call("GET", "/v1/conversations")["data"]
        return data

    def the_conversation(self) -> dict[str, Any]:
        """The visitor's conversation (the org's only one), once the widget has started it."""
        found: list[dict[str, Any]] = until(self.conversations, 15)
        assert len(found) == 1, found
        return found[0]

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.call(
            "GET", f"/v1/conversations/{conversation_id}/messages", params={"limit": 200}
        )["data"]
        return data

    def hand_to_agents(self, conversation_id: str) -> None:
        """Ask for a person on the visitor's behalf: humans may reply only from then on."""
        self.call(
            "PATCH", f"/v1/conversations/{conversation_id}", json={"status": "agent_requested"}
        )

    def say(self, conversation_id: str, content: str, role: str = "agent") -> dict[str, Any]:
        body: dict[str, Any] = {"content": content, "role": role}
        if role == "agent":
            body["agent_id"] = self.org.agent_id
        message: dict[str, Any] = self.call(
            "POST", f"/v1/conversations/{conversation_id}/messages", json=body
        )
        return message
