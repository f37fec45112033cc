"""Real ``chatgate`` processes for end-to-end tests: started on a free port, ready when
``/healthz`` answers, output kept in files (a busy server must never block on a full pipe)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO

import httpx2 as httpx

from bench.services import free_port
from tests.support import timeout

__all__ = ["GatewayProcess", "chatgate", "gateway_process", "run_chatgate"]


def chatgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway", *args]


class GatewayProcess:
    """A running ``chatgate serve``."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, logs: Path) -> None:
        self.process = process
        self.url = url
        self.logs = logs

    @property
    def stdout(self) -> str:
        return (self.logs / "stdout.log").read_text()

    @property
    def stderr(self) -> str:
        return (self.logs / "stderr.log").read_text()

    async def wait_ready(self, seconds: float = 30) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=1) as http:

            async def ready() -> bool:
                if self.process.returncode is not None:
                    raise AssertionError(f"chatgate exited early:\n{self.stderr[-3000:]}")
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            deadline = asyncio.get_running_loop().time() + timeout(seconds)
            while not await ready():
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"chatgate never became ready:\n{self.stderr[-3000:]}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, like a crashed host: no shutdown, no goodbye to anyone."""
        if self.process.returncode is None:
            self.process.kill()

    async def stop(self) -> int:
        """Ctrl-C, then wait; returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(timeout(30)):
            return await self.process.wait()


@asynccontextmanager
async def gateway_process(
    logs: Path,
    *args: str,
    env: dict[str, str] | None = None,
    ready: bool = True,
    port: int | None = None,
) -> AsyncIterator[GatewayProcess]:
    """``chatgate serve --port <free> ARGS`` (or ``port``: to restart a killed one where its
    clients look for it), stopped (or reaped) at the end."""
    port = port or free_port()
    out, err = _log_files(logs)
    with out, err:
        process = await asyncio.create_subprocess_exec(
            *chatgate("serve", "--host", "127.0.0.1", "--port", str(port), *args),
            stdout=out,
            stderr=err,
            env={**os.environ, "CHATGATE_LOG_LEVEL": "warning", **(env or {})},
        )
    gateway = GatewayProcess(process, f"http://127.0.0.1:{port}", logs)
    try:
        if ready:
            await gateway.wait_ready()
        yield gateway
    finally:
        if process.returncode is None:
            await gateway.stop()


def _log_files(logs: Path) -> tuple[BinaryIO, BinaryIO]:
    logs.mkdir(parents=True, exist_ok=True)
    return (logs / "stdout.log").open("wb"), (logs / "stderr.log").open("wb")


async def run_chatgate(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run a chatgate command to completion: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *chatgate(*args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    async with asyncio.timeout(timeout(60)):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
