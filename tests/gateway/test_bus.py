"""The command bus: one wrapper turns every failure into a stable code, and counts it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from gateway.core.bus import CommandBus, Context
from gateway.core.metrics import Metrics
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.errors import StorageError


@dataclass(frozen=True)
class Probe:
    failure: Exception | None = None


async def probe(ctx: Context, command: Probe) -> str:
    if command.failure is not None:
        raise command.failure
    return "done"


def make_bus() -> tuple[CommandBus, Metrics]:
    metrics = Metrics()
    bus = CommandBus(metrics)
    bus.register(Probe, probe)
    return bus, metrics


CTX = Context(None, "http", "req-1")


def count(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "chatgate_commands_total", {"command": "Probe", "transport": "http", "outcome": outcome}
    )
    return value or 0.0


async def test_bus_dispatch_returns_the_result_and_counts_it() -> None:
    """A successful command returns its handler's result and counts as ok."""
    bus, metrics = make_bus()
    assert await bus.dispatch(CTX, Probe()) == "done"
    assert count(metrics, "ok") == 1


async def test_bus_gateway_errors_pass_through() -> None:
    """A handler's refusal reaches the caller unchanged, counted under its code."""
    bus, metrics = make_bus()
    refusal = GatewayError(ErrorCode.INVALID_STATE, "no")
    with pytest.raises(GatewayError) as info:
        await bus.dispatch(CTX, Probe(refusal))
    assert info.value is refusal
    assert count(metrics, "invalid_state") == 1


async def test_bus_unexpected_error_becomes_internal_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug answers a bare internal error; the traceback goes to the log, not the client."""
    bus, metrics = make_bus()
    with caplog.at_level(logging.ERROR), pytest.raises(GatewayError) as info:
        await bus.dispatch(CTX, Probe(ZeroDivisionError("secret detail")))
    assert info.value.code is ErrorCode.INTERNAL
    assert "secret detail" not in str(info.value.to_wire())
    assert "ZeroDivisionError" in caplog.text and "req-1" in caplog.text
    assert count(metrics, "internal") == 1


async def test_bus_storage_failure_becomes_unavailable() -> None:
    """A storage failure answers a temporary unavailable (503)."""
    bus, _ = make_bus()
    with pytest.raises(GatewayError) as info:
        await bus.dispatch(CTX, Probe(StorageError("disk full")))
    assert info.value.code is ErrorCode.UNAVAILABLE and info.value.temporary
    assert info.value.http_status == 503


async def test_bus_registration_is_explicit_and_single() -> None:
    """Registering twice, or dispatching an unknown command, is a programming error."""
    bus, _ = make_bus()
    with pytest.raises(RuntimeError):
        bus.register(Probe, probe)
    with pytest.raises(RuntimeError):
        await bus.dispatch(CTX, object())
