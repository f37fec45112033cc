"""``chatgate bench storm`` at smoke size: every client drops at once and resumes on another
node while messages keep coming; nothing lost across the reconnect, nothing timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.cli import main
from bench.services import redis_available
from tests.conftest import service_missing

pytestmark = pytest.mark.e2e


def test_every_client_resumes_after_the_storm_with_nothing_lost(tmp_path: Path) -> None:
    if not redis_available():
        service_missing("redis-server is not installed")
    code = main(
        [
            "storm",
            *("--clients", "100", "--rate", "50", "--duration", "4"),
            *("--nodes", "2", "--quiet", "--out", str(tmp_path)),
        ]
    )
    summary: dict[str, Any] = orjson.loads((tmp_path / "storm.json").read_bytes())
    checks = summary["checks"]
    assert code == 0, checks
    assert checks["ok"] and checks["expected"] > 0 and checks["subscriptions"] == 100
    assert checks["lost"] == checks["duplicated"] == checks["out_of_order"] == 0
    assert checks["received"] == checks["expected"]
    assert summary["errors"] == {} and summary["acked"] == summary["sent"] > 0

    assert summary["clients"] == summary["reconnected"] == summary["caught_up"] == 100
    assert summary["reconnect_failures"] == 0
    assert summary["drop_at"] == pytest.approx(4 / 3)
    for key in ("resume_seconds_p50", "resume_seconds_p99", "resume_seconds_max"):
        assert summary[key] is not None and key in summary["report_keys"]
    assert summary["hello_seconds"]["max"] is not None
    assert summary["resume_seconds_p50"] <= summary["resume_seconds_max"]
    # The per-client lists were reduced to figures, not written out.
    assert "storm_hello_ms" not in summary and "storm_caught_ms" not in summary
