"""Follow one conversation live: python docs/examples/watch.py TOKEN CONVERSATION_ID [URL]

Prints every event from the start of the conversation (after_seq 0), then live ones.
On a drop it reconnects and resumes from the last seq it printed, so nothing is missed.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def watch(token: str, conversation_id: str, url: str) -> None:
    last_seq = 0
    while True:
        try:
            async with connect(url, subprotocols=["chatgate.json"]) as ws:
                hello = {
                    "op": "hello",
                    "ref": "hi",
                    "token": token,
                    "resume": {conversation_id: last_seq},
                }
                await ws.send(json.dumps(hello))
                async for raw in ws:
                    decoded = json.loads(raw)
                    for frame in decoded if isinstance(decoded, list) else [decoded]:
                        if frame["op"] == "reply" and not frame["ok"]:
                            print("error:", frame["error"])
                        elif frame["op"] == "event" and frame["seq"] is not None:
                            last_seq = frame["seq"]
                            print(describe(frame), flush=True)
        except (ConnectionClosed, OSError) as exc:
            print(f"(disconnected: {exc}; resuming after seq {last_seq})", flush=True)
            await asyncio.sleep(1)


def describe(frame: dict) -> str:
    data = frame["data"]
    if frame["event"] == "new_message":
        return f"#{frame['seq']} {data['role']}: {data['content']}"
    changes = ", ".join(
        f"{k} {a} -> {b}"
        for k, (a, b) in data["changes"].items()
        if k in ("status", "handler", "epoch")
    )
    return f"#{frame['seq']} conversation.updated: {changes}"


if __name__ == "__main__":
    url = sys.argv[3] if len(sys.argv) > 3 else "ws://127.0.0.1:8000/ws"
    asyncio.run(watch(sys.argv[1], sys.argv[2], url))
