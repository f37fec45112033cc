"""The socket.io baseline's Node packages: installed from its committed lock (``npm ci``, no
install scripts) when ``node`` exists and they are missing or older than the lock.

    python -m bench.baselines.node      (what ``make bench-node`` runs)
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["SOCKETIO_DIR", "install_socketio", "socketio_missing"]

SOCKETIO_DIR = Path(__file__).parent / "socketio"
#: Seconds ``npm ci`` may take.
INSTALL_SECONDS = 300


def _stamp() -> Path:
    """A file named after the lock's digest: present when node_modules matches the lock."""
    digest = hashlib.sha256((SOCKETIO_DIR / "package-lock.json").read_bytes()).hexdigest()
    return SOCKETIO_DIR / "node_modules" / f".installed-{digest[:16]}"


def socketio_missing() -> str | None:
    """Why the socket.io baseline cannot run here as it is, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not _stamp().exists():
        return f"its packages are not installed (make bench-node, or npm ci in {SOCKETIO_DIR})"
    return None


def install_socketio() -> str | None:
    """Install the packages if ``node`` exists and they are not; return why the baseline
    still cannot run, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    stamp = _stamp()
    if stamp.exists():
        return None
    if shutil.which("npm") is None:
        return "npm is not on PATH"
    try:
        done = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=SOCKETIO_DIR,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"npm ci in {SOCKETIO_DIR} took more than {INSTALL_SECONDS} s"
    if done.returncode != 0:
        return f"npm ci in {SOCKETIO_DIR} failed: {(done.stderr or done.stdout)[-600:]}"
    for old in stamp.parent.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return None


if __name__ == "__main__":
    # Without node there is nothing to install (the baseline is then left out); a failed
    # install is an error.
    reason = install_socketio()
    if reason:
        print(f"socket.io baseline: {reason}", file=sys.stderr)
    sys.exit(1 if reason and shutil.which("node") else 0)
