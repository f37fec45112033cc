"""``chatgate bench fanout`` at smoke size: every delivery checked, nothing timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.cli import main
from bench.services import redis_available
from tests.conftest import service_missing

pytestmark = pytest.mark.e2e


def _run(tmp_path: Path, *args: str) -> dict[str, Any]:
    code = main(["fanout", *args, "--duration", "2", "--quiet", "--out", str(tmp_path)])
    summary: dict[str, Any] = orjson.loads((tmp_path / "fanout.json").read_bytes())
    assert code == 0, summary["checks"]
    return summary


def test_one_node_on_sqlite_delivers_every_message_to_every_member(tmp_path: Path) -> None:
    summary = _run(tmp_path, "--nodes", "1", "--rooms", "3", "--members", "4", "--rate", "240")
    checks = summary["checks"]
    assert checks["ok"] and checks["subscriptions"] == 12
    # Every acknowledged message reached every member of its room (plus the takeover's
    # system message and status change, which the ledger counts too).
    assert summary["acked"] == summary["sent"] > 0
    assert checks["received"] == checks["expected"] >= 4 * summary["acked"]
    assert summary["deliveries"] > 0 and summary["latency_ms"]["max"] > 0
    assert summary["server"]["cpu_us_per_delivery"] > 0
    assert (tmp_path / "fanout.png").stat().st_size > 0


def test_two_nodes_on_postgres_deliver_across_nodes_through_redis(
    tmp_path: Path, postgres_url: str
) -> None:
    if not redis_available():
        service_missing("redis-server is not installed")
    summary = _run(
        tmp_path,
        *("--nodes", "2", "--database-url", postgres_url, "--rooms", "4", "--members", "6"),
        *("--rate", "480", "--workers", "2"),
    )
    assert summary["topology"] == {
        "nodes": 2,
        "database": "postgresql",
        "broker": "redis",
        "started_here": True,
        "server": "chatgate",
    }
    assert summary["checks"]["ok"] and summary["checks"]["subscriptions"] == 24
    assert summary["errors"] == {} and summary["acked"] == summary["sent"] > 0
    assert summary["client"]["workers"] == 2
