"""The bare POST endpoint: Starlette on uvicorn (uvloop, httptools: chatgate's options), one
route that parses the JSON body and answers 201. What a REST send costs before any
authentication, validation, storage or fan-out.

    python -m bench.baselines.post --port 9002

``POST /v1/conversations/{id}/messages`` takes the body ``ingest`` sends and answers
``{"seq": n}``, n from a counter per conversation in memory (``ingest`` checks that no ack
repeats a seq). ``GET /healthz`` and ``/readyz`` answer 200.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["create_app", "main"]


def create_app() -> Starlette:
    counters: dict[str, int] = {}

    async def send(request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"error": {"code": "validation_error"}}, status_code=422)
        if not isinstance(body, dict) or not isinstance(body.get("content"), str):
            return JSONResponse({"error": {"code": "validation_error"}}, status_code=422)
        cid = request.path_params["conversation_id"]
        seq = counters[cid] = counters.get(cid, 0) + 1
        return JSONResponse({"seq": seq}, status_code=201)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/v1/conversations/{conversation_id}/messages", send, methods=["POST"]),
            Route("/healthz", health),
            Route("/readyz", health),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines.post", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
