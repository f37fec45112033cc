"""Follow one conversation live, and pick up where the last run stopped.

    python docs/examples/watch.py TOKEN CONVERSATION_ID [URL]

URL is the gateway, http://127.0.0.1:8000 by default (ws://HOST:PORT/ws works too).

The first run prints every event of the conversation from the start, then live ones. The last
seq printed is kept in a state file per conversation (under --state-dir, by default
$TMPDIR/chatgate-watch), so a restarted watcher prints only what it missed; --after-seq N starts
after seq N instead (0: everything again).

On a drop (the gateway restarts, the network breaks, close 1001, 1011, 1012, 4008) it reconnects
with exponential backoff and jitter (0.5 s doubling up to 15 s) and resumes from the last seq.
When reconnecting cannot help (close 4001: the token is missing, invalid or expired; 4003: not
allowed from here; 4400: a client bug; or an unknown conversation) it stops with exit code 1.
"""

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

#: Close codes after which reconnecting cannot help (see protocol/codes.py).
FATAL = {
    4001: "the token was refused (missing, invalid or expired): get a new one",
    4003: "this token may not be used from here (the widget's allowed origins)",
    4400: "the gateway could not decode the first frame (a client bug)",
}
FIRST_DELAY, MAX_DELAY = 0.5, 15.0


class Stop(Exception):
    """Reconnecting cannot help; the message says why."""


async def watch(token: str, conversation_id: str, url: str, last_seq: int, state: Path) -> None:
    failures = 0
    while True:
        try:
            async with connect(url, subprotocols=["chatgate.json"]) as ws:
                resume = {conversation_id: last_seq}
                await ws.send(
                    json.dumps({"op": "hello", "ref": "hi", "token": token, "resume": resume})
                )
                async for raw in ws:
                    decoded = json.loads(raw)
                    for frame in decoded if isinstance(decoded, list) else [decoded]:
                        if frame["op"] == "reply":
                            check(frame, conversation_id)
                            failures = 0
                        elif frame["op"] == "event" and (frame["seq"] or 0) > last_seq:
                            last_seq = frame["seq"]
                            print(describe(frame), flush=True)
                            save(state, last_seq)
                why = f"closed with {ws.close_code}"  # 1000 or 1001: the gateway went away
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            if code in FATAL:
                raise Stop(f"closed with {code} ({exc.rcvd.reason}): {FATAL[code]}") from None
            why = f"closed with {code}" if code else "connection lost"
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status < 500:
                raise Stop(f"{url} answered HTTP {status}: is that the gateway's /ws?") from None
            why = f"HTTP {status}"
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            why = str(exc) or type(exc).__name__
        failures += 1
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - 1))
        delay = random.uniform(delay / 2, delay)  # jitter: clients of one gateway spread out
        note = f"({why}; resuming after seq {last_seq} in {delay:.1f} s)"
        print(note, file=sys.stderr, flush=True)
        await asyncio.sleep(delay)


def check(reply: dict, conversation_id: str) -> None:
    if not reply["ok"]:
        raise Stop(f"the gateway refused: {reply['error']['message']}")
    resumed = reply["data"].get("resume", {}).get(conversation_id, {"ok": True})
    if not resumed["ok"]:
        raise Stop(f"cannot follow {conversation_id}: {resumed['error']['message']}")


def describe(frame: dict) -> str:
    data = frame["data"]
    if frame["event"] == "new_message":
        return f"#{frame['seq']} {data['role']}: {data['content']}"
    changes = ", ".join(
        f"{k} {a} -> {b}"
        for k, (a, b) in data["changes"].items()
        if k in ("status", "handler", "epoch")
    )
    return f"#{frame['seq']} {frame['event']}: {changes}"


def save(state: Path, seq: int) -> None:
    partial = state.with_suffix(".partial")
    partial.write_text(f"{seq}\n")
    os.replace(partial, state)  # atomic: a watcher killed mid-write keeps the previous seq


def load(state: Path) -> int:
    try:
        return int(state.read_text())
    except (FileNotFoundError, ValueError):
        return 0


def socket_url(text: str) -> str:
    """http://host:port (or ws://host:port/ws) -> ws://host:port/ws."""
    parts = urlsplit(text if "://" in text else f"http://{text}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise argparse.ArgumentTypeError(f"not a gateway URL: {text!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") or "/ws", parts.query, ""))


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="watch.py",
        description=__doc__.split("\n")[0],
        epilog="Exit codes: 1 when the gateway refuses (bad or expired token, unknown "
        "conversation), 2 for bad arguments.",
    )
    parser.add_argument(
        "token", metavar="TOKEN", help="a visitor, agent or bot token, or an API key"
    )
    parser.add_argument("conversation_id", metavar="CONVERSATION_ID")
    parser.add_argument(
        "url",
        metavar="URL",
        nargs="?",
        type=socket_url,
        default="http://127.0.0.1:8000",
        help="the gateway (default http://127.0.0.1:8000)",
    )
    parser.add_argument("--after-seq", type=int, help="print events after this seq (0: all)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "chatgate-watch",
        help="where the last seq printed is kept (default: %(default)s)",
    )
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    state = args.state_dir / (re.sub(r"[^\w-]", "_", args.conversation_id) + ".seq")
    last_seq = load(state) if args.after_seq is None else args.after_seq
    if args.after_seq is None and last_seq:
        print(
            f"(resuming after seq {last_seq}, kept in {state}; --after-seq 0 prints all)",
            file=sys.stderr,
            flush=True,
        )
    try:
        asyncio.run(watch(args.token, args.conversation_id, args.url, last_seq, state))
    except Stop as exc:
        print(f"watch.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
