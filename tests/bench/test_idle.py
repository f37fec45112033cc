"""``chatgate bench idle`` at smoke size: every idle socket stays open and gets the final
message; nothing timed."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.cli import main

pytestmark = pytest.mark.e2e


def test_idle_sockets_over_two_source_addresses_stay_open_and_are_measured(
    tmp_path: Path,
) -> None:
    code = main(
        [
            "idle",
            *("--connections", "200", "--per-conversation", "50", "--per-address", "100"),
            *("--workers", "2", "--duration", "2", "--set", "CHATGATE_WS_PING_INTERVAL=0.5"),
            *("--quiet", "--out", str(tmp_path)),
        ]
    )
    summary: dict[str, Any] = orjson.loads((tmp_path / "idle.json").read_bytes())
    assert code == 0, summary["checks"]
    checks = summary["checks"]
    # One message per conversation (4 of them), received once by each of the 200 sockets.
    assert checks["ok"] and checks["subscriptions"] == 200
    assert checks["expected"] == checks["received"] == 200 and checks["lost"] == 0
    assert summary["sent"] == summary["acked"] == 4 and summary["errors"] == {}
    assert summary["connections"] == 200
    assert summary["connect_failures"] == summary["connect_skipped"] == 0
    assert summary["closed_during_hold"] == 0
    assert summary["connect_seconds"] > 0
    assert summary["rss_per_connection_kb"] > 0
    assert summary["keepalive_cpu_us_per_connection_second"] > 0
    assert summary["ping_interval_seconds"] == 0.5
    assert "rss_per_connection_kb" in summary["report_keys"]
    assert (tmp_path / "idle.png").stat().st_size > 0


def test_more_sockets_than_a_worker_may_open_fail_early_naming_workers(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no open-file limit here")
    with pytest.raises(SystemExit, match="raise --workers to 2"):
        main(["idle", "--connections", str(hard), "--quiet", "--out", str(tmp_path)])
