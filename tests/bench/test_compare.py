"""``chatgate bench compare`` at smoke size: chatgate and every baseline loaded by the same
generator, every delivery checked, the table and chart written into a page of our own (never
the real docs); nothing timed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.baselines.node import socketio_missing
from bench.cli import main
from bench.services import redis_available
from tests.conftest import postgres_schema, service_missing

# The first test pays for the whole compare (nine short runs, each with its own servers):
# about 45 s on an idle machine; the budget is for a machine others load too.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PAGE = """# Performance

Written by hand, kept.

<!-- compare:begin -->
the table of an older run
<!-- compare:end -->

Also kept.
"""


@pytest.fixture(scope="module")
def compared(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str
) -> Iterator[dict[str, Any]]:
    """One compare at smoke size; socket.io only where its packages are installed (``make
    test`` installs them; the test never reaches for the npm registry itself)."""
    if not redis_available():
        service_missing("redis-server is not installed")
    root = tmp_path_factory.mktemp("compare")
    page = root / "docs" / "performance.md"
    page.parent.mkdir()
    page.write_text(PAGE)
    servers = "relay,socketio,chatgate" if socketio_missing() is None else "relay,chatgate"
    with postgres_schema(postgres_server) as database_url:
        code = main(
            [
                "compare",
                *("--servers", servers, "--database-url", database_url),
                *("--rates", "300", "--rooms", "3", "--members", "4", "--duration", "1"),
                *("--connections", "100", "--idle-duration", "1", "--idle-workers", "1"),
                *("--ingest-rates", "100", "--ingest-conversations", "4"),
                *("--ingest-duration", "1", "--ingest-workers", "1"),
                *("--out", str(root / "out"), "--docs", str(page), "--no-install", "--quiet"),
            ]
        )
    data: dict[str, Any] = orjson.loads((root / "out" / "compare.json").read_bytes())
    yield {"code": code, "data": data, "page": page, "out": root / "out"}


def _delivered_everything(point: dict[str, Any]) -> None:
    assert point["ok"] and not point.get("failed"), point
    assert point["lost"] == point["duplicated"] == point["out_of_order"] == 0
    assert point["received"] == point["expected"] > 0
    assert point["errors"] == {} and point["acked"] == point["sent"] > 0


def _rows(page: Path) -> dict[str, list[str]]:
    """The table rows of the page's compare block, by their first cell."""
    block = page.read_text().split("<!-- compare:begin -->")[1].split("<!-- compare:end -->")[0]
    rows = [line.strip("|").split("|") for line in block.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_every_server_delivers_every_message_to_every_member(compared: dict[str, Any]) -> None:
    data = compared["data"]
    assert compared["code"] == 0, data["failures"]
    assert data["failures"] == []
    for server in ("relay", "chatgate"):
        (point,) = data["fanout"][server]
        _delivered_everything(point)
        # Each of a room's 4 members got every message of its room.
        assert point["expected"] >= 4 * point["acked"]
        idle = data["idle"][server]
        _delivered_everything(idle)
        assert idle["connections"] == idle["received"] == 100
        assert idle["connect_failures"] == idle["closed_during_hold"] == 0


def test_rest_sends_are_acked_by_the_bare_endpoint_and_chatgate_on_both_stores(
    compared: dict[str, Any],
) -> None:
    ingest = compared["data"]["ingest"]
    assert set(ingest) == {"post", "chatgate-sqlite", "chatgate-postgres"}
    for server, (point,) in ingest.items():
        assert point["ok"] and point["errors"] == {}, (server, point)
        assert point["acked"] == point["sent"] > 0
    # chatgate's acks also reached their subscribers; the bare endpoint has none to watch.
    assert ingest["post"][0]["watched"] is False
    for server in ("chatgate-sqlite", "chatgate-postgres"):
        _delivered_everything(ingest[server][0])


def test_the_table_and_chart_go_between_the_markers_and_nothing_else_changes(
    compared: dict[str, Any],
) -> None:
    page: Path = compared["page"]
    text = page.read_text()
    assert text.startswith("# Performance\n\nWritten by hand, kept.\n\n<!-- compare:begin -->\n")
    assert text.endswith("<!-- compare:end -->\n\nAlso kept.\n")
    assert "an older run" not in text and text.count("<!-- compare:begin -->") == 1
    assert "](performance/compare.png)" in text
    assert (page.parent / "performance" / "compare.png").stat().st_size > 0
    assert (compared["out"] / "compare.png").stat().st_size > 0

    rows = _rows(page)
    columns = list(compared["data"]["servers"])  # relay, [socketio,] chatgate; then ratios
    for label in (
        "300/s: server CPU per delivery",
        "300/s: latency p50 / p99",
        "300/s: delivered, lost",
        "highest rate held with p99 ≤ 50 ms, nothing lost",
        "idle: RSS per connection",
        "idle: sockets held in one process",
    ):
        cells = rows[label]
        assert len(cells) == 2 * len(columns) - 1, (label, cells)
        assert not {"–", "failed", "not run"} & set(cells[: len(columns)]), (label, cells)
    for cell in rows["300/s: delivered, lost"][: len(columns)]:
        assert cell.endswith(", 0 lost")
    assert rows["idle: sockets held in one process"][: len(columns)] == ["100"] * len(columns)
    for label in (
        "most sends/s acked",
        "ack p99 at that rate",
        "highest rate held with ack p99 ≤ 20 ms",
        "100/s offered: acked/s",
        "100/s offered: ack p99",
    ):
        assert len(rows[label]) == 5, (label, rows[label])
    assert "–" not in rows["most sends/s acked"]


def test_socketio_is_loaded_by_the_same_generator(compared: dict[str, Any]) -> None:
    if reason := socketio_missing():
        service_missing(f"the socket.io baseline was not run: {reason}")
    data = compared["data"]
    (point,) = data["fanout"]["socketio"]
    _delivered_everything(point)
    idle = data["idle"]["socketio"]
    _delivered_everything(idle)
    assert idle["connections"] == 100
    assert "chatgate ÷ socket.io" in compared["page"].read_text()
