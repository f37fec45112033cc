"""A webhook bot: answers each visitor message with "You said: ..." (docs/bots.md#webhook).

    python docs/examples/echo_bot.py GATEWAY_URL API_KEY BOT_SECRET [PORT]

Create the bot with ``POST /v1/bots {"name": "Echo", "kind": "webhook", "webhook": {"url":
"http://HOST:PORT/"}}`` (its ``secret`` is shown once) and name it on a widget.
"""

import base64
import hashlib
import hmac
import json
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from gateway.client import ClientError, RestClient

gateway, api_key, secret = sys.argv[1:4]
port = int(sys.argv[4]) if len(sys.argv) > 4 else 8090
key = base64.b64decode(secret.removeprefix("whsec_"))


async def hook(request):
    body, h = await request.body(), request.headers
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    mac = base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()
    fresh = abs(time.time() - int(h["webhook-timestamp"])) < 300
    if not fresh or f"v1,{mac}" not in h["webhook-signature"].split():
        return Response(status_code=401)
    event = json.loads(body)
    if event["type"] == "bot.message":
        conversation, message = event["data"]["conversation"], event["data"]["message"]
        async with RestClient(gateway, api_key) as rest:
            try:  # one answer per visitor message, however often it is delivered
                await rest.send_message(
                    conversation["id"],
                    f"You said: {message['content']}",
                    role="bot",
                    epoch=conversation["epoch"],
                    client_message_id=f"echo-{message['id']}",
                )
            except ClientError as error:  # control_lost: a human took over meanwhile
                if error.code != "control_lost":
                    raise
    return Response(status_code=204)


uvicorn.run(Starlette(routes=[Route("/", hook, methods=["POST"])]), port=port, log_level="warning")
