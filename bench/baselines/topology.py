"""Baseline servers, started the way ``Topology`` starts gateways: ``nodes`` processes, a
Redis of their own for the relay and socket.io (even for one node: they are Redis relays), the
logs in a temporary directory, the process ids for the CPU and memory figures.

A baseline has no accounts: the token and the "API key" are one fixed string that nobody
checks, and a conversation is a fresh uuid (a room).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.baselines.node import SOCKETIO_DIR, install_socketio
from bench.nodes import Node, Topology, raise_open_files
from bench.services import free_port
from bench.socketio_client import PATH as SOCKETIO_PATH

__all__ = ["SERVERS", "Baseline"]

#: The baselines by name, each with what it takes from the harness.
SERVERS = {
    "relay": "bare websockets + Redis relay (fanout, idle)",
    "socketio": "Node socket.io + Redis adapter (fanout, idle)",
    "post": "bare Starlette POST endpoint (ingest)",
}
TOKEN = "baseline"


@dataclass
class Baseline(Topology):
    """``nodes`` processes of baseline ``server`` (a key of ``SERVERS``)."""

    server: str = "relay"

    def start(self) -> None:
        if self.server not in SERVERS:
            raise ValueError(f"no baseline {self.server!r}: one of {', '.join(SERVERS)}")
        if self.urls or self.database_url or self.source:
            raise ValueError(
                "a baseline is started here, without --url, --database-url or --gateway-source"
            )
        if self.server == "socketio" and (reason := install_socketio()):
            raise RuntimeError(f"cannot start the socket.io baseline: {reason}")
        self._dir = Path(tempfile.mkdtemp(prefix=f"chatgate-bench-{self.server}-"))
        if self.server != "post":
            self.redis = True
            self._start_redis()
        for index in range(self.nodes):
            port = free_port()
            command, cwd, ws_path = self._command(port)
            with (self._dir / f"node{index}.log").open("wb") as log:
                process = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=raise_open_files,
                    cwd=cwd,
                )
            self._processes.append(process)
            self.started.append(Node(f"http://127.0.0.1:{port}", process.pid, ws_path))
        for node, process in zip(self.started, self._processes, strict=True):
            self._wait_ready(node, process)
        self.api_key = TOKEN
        self.credentials = dict.fromkeys(("org_id", "widget_id", "agent_id"), TOKEN)
        self.credentials["api_key"] = TOKEN

    def _command(self, port: int) -> tuple[list[str], Path | None, str | None]:
        """The command line of a node on ``port``, where it runs, and its socket path."""
        if self.server == "socketio":
            node = shutil.which("node") or "node"
            command = [node, "server.js", "--port", str(port), "--redis-url", str(self.redis_url)]
            return command, SOCKETIO_DIR, SOCKETIO_PATH
        module = f"bench.baselines.{self.server}"
        command = [sys.executable, "-m", module, "--port", str(port)]
        if self.server == "relay":
            return [*command, "--redis-url", str(self.redis_url)], None, "/ws"
        return command, None, None

    def conversations(self, count: int, *, escalate: bool) -> tuple[str, list[str]]:
        return TOKEN, [str(uuid.uuid4()) for _ in range(count)]

    def describe(self) -> dict[str, Any]:
        return {
            "nodes": len(self.started),
            "database": "none",
            "broker": "redis" if self.redis_url else "none",
            "started_here": True,
            "server": self.server,
        }
