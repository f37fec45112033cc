"""Free TCP ports on 127.0.0.1 for processes started next (a gateway, a redis-server), which bind
them a second or two later, once their interpreter is up.

A port is picked at random below the kernel's ephemeral range, not by binding port 0. Port 0
hands out a port of that range, the one outgoing connections take their local ports from: on a
busy machine (a benchmark's thousands of sockets, two test workers, other people's runs) one of
them takes it in that second or two, and the process fails with "address already in use". Below
the range only another picker can take it, about one chance in twenty thousand per pick; this
process never hands out one port twice in a row.
"""

from __future__ import annotations

import random
import socket
from collections import deque
from pathlib import Path

__all__ = ["CLUSTER_BUS_OFFSET", "free_port"]

#: A Redis Cluster node also listens on its port + 10000 (the cluster bus).
CLUSTER_BUS_OFFSET = 10000
#: The lowest port picked: above the well-known and most registered services' ports.
LOWEST = 10000
#: Where the kernel's ephemeral range begins when it does not say (Linux's default).
EPHEMERAL_DEFAULT = 32768
#: Tries before giving up (each one a bind; all failing means the machine is out of ports).
TRIES = 1000

_random = random.SystemRandom()
_recent: deque[int] = deque(maxlen=256)


def free_port(*, with_bus: bool = False) -> int:
    """A TCP port free right now on 127.0.0.1 (and port + 10000 too, for a cluster bus)."""
    top = _ephemeral_start() - (CLUSTER_BUS_OFFSET if with_bus else 0)
    if top - LOWEST < 1000:  # an unusual ephemeral range: leave the choice to the kernel
        return _kernel_port(with_bus)
    for _ in range(TRIES):
        port = _random.randrange(LOWEST, top)
        if port in _recent or not _free(port):
            continue
        if with_bus and not _free(port + CLUSTER_BUS_OFFSET):
            continue
        _recent.append(port)
        return port
    raise RuntimeError(f"no free port found between {LOWEST} and {top}")


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_DEFAULT


def _kernel_port(with_bus: bool) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if not with_bus:
            return port
        if port + CLUSTER_BUS_OFFSET < 65536 and _free(port + CLUSTER_BUS_OFFSET):
            return port


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
