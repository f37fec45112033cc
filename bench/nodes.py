"""The gateways a run loads: started here (``chatgate serve`` processes, plus a Redis of
their own when there are several) or already running (``--url``, with ``--api-key``).

Started nodes share one database and a secret key, log at ``warning`` and have the org rate
limit off (a load test is not abuse). Their process ids let the run read their CPU time
and memory.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import psutil

from bench.rest import agent_and_conversations
from bench.services import RedisServer, free_port, redis_available

__all__ = ["Node", "Topology", "Usage", "raise_open_files"]

READY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Node:
    url: str
    pid: int | None
    #: Where its sockets connect (None: it has none, as the bare POST baseline).
    ws_path: str | None = "/ws"

    @property
    def ws_url(self) -> str:
        if self.ws_path is None:
            raise ValueError(f"{self.url} takes no sockets")
        return "ws" + self.url.removeprefix("http") + self.ws_path


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds and resident memory of a set of processes at one moment."""

    cpu: float
    rss: int
    #: The part of ``cpu`` spent in the kernel (socket writes, fsync).
    system: float = 0.0

    @classmethod
    def of(cls, processes: list[psutil.Process]) -> Usage:
        cpu, rss, system = 0.0, 0, 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                cpu += times.user + times.system
                system += times.system
                rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return cls(cpu, rss, system)


@dataclass
class Topology:
    """Gateway nodes for a run, and the org the run uses on them.

    Args:
        nodes: how many gateway processes to start (ignored with ``urls``).
        database_url: shared by started nodes; default a fresh SQLite file.
        redis_url: the broker of started nodes; default a ``redis-server`` of our own when
            there are several nodes (none for one) or ``redis`` says so.
        urls, api_key: load running gateways instead, as this org.
        env: extra ``CHATGATE_*`` settings for started nodes.
    """

    nodes: int = 1
    database_url: str | None = None
    redis_url: str | None = None
    urls: list[str] = field(default_factory=list)
    api_key: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: Start a Redis of our own (when no ``redis_url``): None means when there are several nodes.
    redis: bool | None = None
    #: Run the gateways from this source tree instead (``python -m gateway`` there): an
    #: A/B comparison against another checkout with one harness.
    source: str | None = None
    started: list[Node] = field(default_factory=list, init=False)
    credentials: dict[str, str] = field(default_factory=dict, init=False)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)
    _redis: RedisServer | None = field(default=None, init=False)
    _dir: Path | None = field(default=None, init=False)

    def __enter__(self) -> Topology:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None and self._dir is not None:
            print(f"chatgate bench: gateway logs kept in {self._dir}", file=sys.stderr)
            self._dir = None  # kept
        self.stop()

    @property
    def processes(self) -> list[psutil.Process]:
        return [psutil.Process(n.pid) for n in self.started if n.pid is not None]

    @property
    def redis_processes(self) -> list[psutil.Process]:
        if self._redis is None or self._redis.process is None:
            return []
        return [psutil.Process(self._redis.process.pid)]

    @property
    def database_processes(self) -> list[psutil.Process]:
        """A local PostgreSQL's processes (its CPU is reported apart from ours)."""
        if not (self.database_url or "").startswith("postgres"):
            return []
        return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]

    def describe(self) -> dict[str, Any]:
        return {
            "nodes": len(self.started),
            "database": (self.database_url or "").split("://")[0] or "remote",
            "broker": "redis" if self.redis_url else "memory" if not self.urls else "remote",
            "started_here": not self.urls,
            "server": "chatgate",
        }

    def start(self) -> None:
        if self.urls:
            if not self.api_key:
                raise ValueError("--url needs --api-key (an API key of the org to load)")
            self.started = [Node(url.rstrip("/"), None) for url in self.urls]
            self.credentials = _org_of(self.started[0].url, self.api_key)
            return
        self._dir = Path(tempfile.mkdtemp(prefix="chatgate-bench-"))
        if self.database_url is None:
            self.database_url = f"sqlite:///{self._dir / 'bench.db'}"
        self._start_redis()
        env = os.environ | {
            "CHATGATE_DATABASE_URL": self.database_url,
            "CHATGATE_REDIS_URL": self.redis_url or "",
            "CHATGATE_SECRET_KEY": secrets.token_urlsafe(36),
            "CHATGATE_BOOTSTRAP": "false",
            # Every simulated visitor comes from 127.0.0.1: no budget may throttle the load.
            "CHATGATE_ORG_REQUESTS_PER_MINUTE": "0",
            "CHATGATE_VISITOR_REQUESTS_PER_MINUTE": "0",
            "CHATGATE_ADDRESS_REQUESTS_PER_MINUTE": "0",
            "CHATGATE_ADDRESS_SESSIONS_PER_MINUTE": "0",
            "CHATGATE_WIDGET_SESSIONS_PER_MINUTE": "0",
            "CHATGATE_LOG_LEVEL": "warning",
            "CHATGATE_HOST": "127.0.0.1",
        }
        env.update(self.env)
        creating: subprocess.Popen[bytes] | None = None
        for index in range(self.nodes):
            port = free_port()
            with (self._dir / f"node{index}.log").open("wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=raise_open_files,
                    cwd=self.source,
                )
            self._processes.append(process)
            self.started.append(Node(f"http://127.0.0.1:{port}", process.pid))
            if index == 0:
                # The first node migrates the database; the others start on it, while the
                # org is created.
                self._wait_ready(self.started[0], process)
                creating = subprocess.Popen(
                    [sys.executable, "-m", "gateway", "orgs", "create", "bench", "--json"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=self.source,
                )
        for node, process in zip(self.started, self._processes, strict=True):
            self._wait_ready(node, process)
        assert creating is not None
        created, errors = creating.communicate(timeout=READY_SECONDS * 2)
        if creating.returncode != 0:
            raise RuntimeError(f"chatgate orgs create failed: {errors.decode(errors='replace')}")
        self.credentials = orjson.loads(created)
        self.api_key = self.credentials["api_key"]

    def _start_redis(self) -> None:
        wanted = self.nodes > 1 if self.redis is None else self.redis
        if wanted and not self.redis_url:
            if not redis_available():
                raise RuntimeError("a Redis of our own needs redis-server (or give --redis-url)")
            self._redis = RedisServer().start()
            self.redis_url = self._redis.url

    def conversations(self, count: int, *, escalate: bool) -> tuple[str, list[str]]:
        """A token of the org's agent and ``count`` new conversations (handed to the team
        first with ``escalate``, so that agents may speak)."""
        return agent_and_conversations(
            self.started[0].url, self.credentials, count, escalate=escalate
        )

    def _wait_ready(self, node: Node, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gateway {node.url} exited: {self.log_tail()}")
            try:
                if httpx.get(node.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway {node.url} not ready: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self) -> str:
        if self._dir is None:
            return ""
        return "\n".join(
            f"{log.name}: {log.read_text(errors='replace')[-1500:]}"
            for log in sorted(self._dir.glob("node*.log"))
        )

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def raise_open_files() -> None:
    """Lift this process's soft open-file limit to the hard one: every socket is a file
    descriptor (the ``idle`` scenario holds tens of thousands). Started nodes run it before
    exec; load workers when they prepare."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _org_of(url: str, api_key: str) -> dict[str, str]:
    """The org, a widget and an agent, for a run against running gateways."""
    headers = {"Authorization": f"Bearer {api_key}"}
    widgets = httpx.get(url + "/v1/widgets", headers=headers, timeout=10).raise_for_status()
    agents = httpx.get(url + "/v1/agents", headers=headers, timeout=10).raise_for_status()
    widget = widgets.json()["data"][0]
    agent = agents.json()["data"][0]
    return {
        "api_key": api_key,
        "org_id": widget["org_id"],
        "widget_id": widget["id"],
        "agent_id": agent["id"],
    }
