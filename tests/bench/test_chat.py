"""``chatgate bench chat`` at smoke size: pairs converse through a takeover over REST and the
socket, inbox tabs watch; every event checked, nothing timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.cli import main
from bench.services import redis_available
from tests.conftest import service_missing

pytestmark = pytest.mark.e2e


def test_pairs_take_over_and_every_subscriber_and_inbox_tab_gets_every_event(
    tmp_path: Path,
) -> None:
    if not redis_available():
        service_missing("redis-server is not installed")
    code = main(
        [
            "chat",
            *("--pairs", "10", "--inboxes", "2", "--rate", "50", "--duration", "3"),
            *("--nodes", "2", "--quiet", "--out", str(tmp_path)),
        ]
    )
    summary: dict[str, Any] = orjson.loads((tmp_path / "chat.json").read_bytes())
    checks = summary["checks"]
    assert code == 0, checks
    assert checks["ok"] and checks["expected"] > 0
    assert checks["lost"] == checks["duplicated"] == checks["out_of_order"] == 0
    assert checks["received"] == checks["expected"]
    # No write was refused: the script follows the lifecycle.
    assert summary["errors"] == {} and summary["acked"] == summary["sent"] > 0
    assert summary["topology"]["nodes"] == 2 and summary["topology"]["broker"] == "redis"

    conversations, writes, inbox = summary["conversations"], summary["writes"], summary["inbox"]
    # Every pair got through at least one takeover (12 messages a conversation at 5/s).
    assert conversations["started"] >= 10 and conversations["takeovers"] >= 10
    assert conversations["resolved"] <= conversations["takeovers"]
    assert writes["socket"] > 0 and writes["rest"] > 0 and writes["status_changes"] > 0
    assert writes["refused"] == writes["stray_events"] == 0
    # Both tabs checked every conversation: created, asked for a human, taken over...
    assert inbox["tabs"] == 2 and inbox["checked"] == 2 * conversations["started"]
    assert inbox["expected"] >= 2 * 3 * conversations["takeovers"]
    assert inbox["events"] == inbox["expected"]
    assert inbox["lost"] == inbox["duplicated"] == inbox["out_of_order"] == 0
    assert summary["deliveries"] > 0 and summary["latency_ms"]["max"] > 0
