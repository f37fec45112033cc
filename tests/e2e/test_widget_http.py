"""What a widget's browser does over real HTTP: load the script, read the config, open a
session and talk, each cross-origin request preceded by its preflight."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx

from gateway.app import create_app
from gateway.settings import Settings
from tests.support import bearer, live_server, new_org, timeout

SHOP = "https://shop.example"


async def test_widget_browser_flow_over_real_http(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """On a real uvicorn, the script is served publicly, and every preflight and request of a
    widget from its origin is answered with that origin; another origin is refused."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "widget.js").write_bytes(b"console.log('widget');\n")
    app = create_app(settings.replace(web_dist_dir=str(dist)))
    with live_server(app) as url:
        org = await new_org(database_url, "Shop", origins=(SHOP,))
        async with httpx.AsyncClient(base_url=url, timeout=timeout(30)) as http:
            script = await http.get("/widget.js")
            assert script.status_code == 200 and script.content == b"console.log('widget');\n"
            assert script.headers["access-control-allow-origin"] == "*"
            assert script.headers["content-type"] == "text/javascript; charset=utf-8"

            async def preflight(path: str, method: str, origin: str = SHOP) -> httpx.Response:
                return await http.options(
                    path,
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": method,
                        "Access-Control-Request-Headers": "authorization, content-type",
                    },
                )

            sessions = f"/v1/widgets/{org.widget_id}/sessions"
            config = await http.get(f"/v1/widgets/{org.widget_id}/config", headers={"Origin": SHOP})
            assert config.status_code == 200
            assert config.headers["access-control-allow-origin"] == SHOP
            assert (await preflight(sessions, "POST")).status_code == 204
            refused = await preflight(sessions, "POST", "https://evil.example")
            assert refused.status_code == 403
            assert "access-control-allow-origin" not in refused.headers
            opened = await http.post(sessions, json={}, headers={"Origin": SHOP})
            assert opened.status_code == 201
            assert opened.headers["access-control-allow-origin"] == SHOP
            token = opened.json()["token"]

            preflighted = await preflight("/v1/conversations", "POST")
            assert preflighted.status_code == 204
            assert preflighted.headers["access-control-allow-origin"] == SHOP
            started = await http.post(
                "/v1/conversations", json={}, headers={**bearer(token), "Origin": SHOP}
            )
            assert started.status_code == 201
            assert started.headers["access-control-allow-origin"] == SHOP
            messages = f"/v1/conversations/{started.json()['id']}/messages"
            assert (await preflight(messages, "POST")).status_code == 204
            sent = await http.post(
                messages, json={"content": "Hello"}, headers={**bearer(token), "Origin": SHOP}
            )
            assert sent.status_code == 201 and sent.json()["seq"] == 1
            assert sent.headers["access-control-allow-origin"] == SHOP
            assert sent.headers["x-request-id"]
