"""``make cluster``: three gateways, a 3-primary Redis Cluster and PostgreSQL, on this machine.

    python -m bench.cluster [--ports 8001,8002,8003] [--database-url postgresql://...]

Redis comes from the local ``redis-server`` (started on free ports, removed on exit);
PostgreSQL is the local server (a database ``chatgate_cluster`` is created if missing).
Ctrl-C stops everything. Each gateway's log is in the directory printed at start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson

from bench.services import RedisClusterProcesses, redis_available

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/chatgate_cluster"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--ports", default="8001,8002,8003")
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    if not redis_available():
        parser.error("redis-server and redis-cli are needed (apt install redis-server)")
    try:
        asyncio.run(_ensure_database(args.database_url))
    except Exception as exc:
        parser.error(f"PostgreSQL is needed at {args.database_url}: {exc}")

    # SIGTERM stops the cluster as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logs = Path(tempfile.mkdtemp(prefix="chatgate-cluster-"))
    redis = RedisClusterProcesses(3).start()
    gateways: list[subprocess.Popen[bytes]] = []
    try:
        credentials = _org(args.database_url)
        for port in ports:
            gateways.append(_gateway(port, args.database_url, redis.url, logs))
        _wait_ready(ports)
        _print_summary(ports, redis.url, args.database_url, credentials, logs)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        for gateway in gateways:
            gateway.send_signal(signal.SIGINT)
        for gateway in gateways:
            gateway.wait(timeout=30)
        redis.stop()
        print("\nchatgate cluster stopped.")
    return 0


async def _ensure_database(url: str) -> None:
    import asyncpg

    split = urlsplit(url)
    name = split.path.strip("/")
    admin = urlunsplit(split._replace(path="/postgres"))
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _org(database_url: str) -> dict[str, str]:
    created = subprocess.run(
        [sys.executable, "-m", "gateway", "orgs", "create", "Cluster demo", "--json",
         "--database-url", database_url],
        capture_output=True,
        check=True,
    )  # fmt: skip
    credentials: dict[str, str] = orjson.loads(created.stdout)
    return credentials


def _gateway(port: int, database_url: str, redis_url: str, logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"gateway-{port}.log").open("wb")
    env = {**os.environ, "CHATGATE_BOOTSTRAP": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port),
         "--database-url", database_url, "--redis-url", redis_url],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )  # fmt: skip


def _wait_ready(ports: list[int]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    for port in ports:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gateway on port {port} did not become ready") from None
                time.sleep(0.1)


def _print_summary(
    ports: list[int], redis_url: str, database_url: str, credentials: dict[str, str], logs: Path
) -> None:
    print("chatgate cluster is up:")
    for port in ports:
        print(f"  gateway   http://127.0.0.1:{port}   (ws://127.0.0.1:{port}/ws)")
    print(f"  redis     {redis_url}")
    print(f"  database  {database_url}")
    print(f"  logs      {logs}")
    print("credentials of the demo org:")
    for name, value in credentials.items():
        print(f"  {name:<10} {value}")
    print("Connect a visitor to one gateway and an agent to another; Ctrl-C stops everything.")


if __name__ == "__main__":
    raise SystemExit(main())
