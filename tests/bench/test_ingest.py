"""``chatgate bench ingest`` at smoke size: every REST send acked once with its own seq and
seen by the conversation's subscriber; nothing timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.cli import main

pytestmark = pytest.mark.e2e


def test_paced_rest_sends_are_acked_with_unique_seqs_and_delivered(tmp_path: Path) -> None:
    code = main(
        [
            "ingest",
            *("--rate", "300", "--conversations", "10", "--workers", "2", "--duration", "2"),
            *("--quiet", "--out", str(tmp_path)),
        ]
    )
    summary: dict[str, Any] = orjson.loads((tmp_path / "ingest.json").read_bytes())
    assert code == 0, summary["checks"]
    checks = summary["checks"]
    assert checks["ok"] and checks["subscriptions"] == 10 and checks["lost"] == 0
    # Every ack reached its subscriber, plus each conversation's takeover (status change and
    # system message), which the ledger counts too.
    assert summary["acked"] == summary["sent"] > 0 and summary["errors"] == {}
    assert checks["received"] == checks["expected"] == summary["acked"] + 2 * 10
    assert summary["duplicate_ack_seqs"] == 0
    assert summary["deliveries"] > 0 and summary["latency_ms"]["p99"] > 0
    assert summary["offered_sends_per_second"] == 300
    assert summary["http_client"].startswith("aiohttp")
    assert "target" in summary["report_keys"]
    assert summary["client"]["workers"] == 2
