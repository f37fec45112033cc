"""``Idempotency-Key`` for REST POSTs.

A key is scoped to (caller, method, path). The first request with a key runs and its
response is stored for ``ttl`` (24 h by default). A retry with the same body gets the same
status and body back, marked ``Idempotent-Replayed: true``; with a different body it gets
409 ``idempotency_conflict``. A retry that arrives while the first request still runs waits
for it (up to ``wait`` seconds) and then replays it, so two concurrent requests with one key
have one effect. Server errors (5xx) and rate limiting (429) are not stored: a retry runs again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from starlette.responses import Response

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import IdempotencyRecord, now

__all__ = ["Idempotency"]

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADER = "Idempotent-Replayed"
#: Headers worth replaying besides the body.
KEPT_HEADERS = ("content-type", "location")


class Idempotency:
    """Runs requests at most once per key.

    Args:
        store: where keys and responses live (shared by every gateway process).
        ttl: how long a key is remembered.
        wait: how long a retry waits for a first request that is still running.
    """

    def __init__(self, store: Store, ttl: timedelta, wait: float = 15.0) -> None:
        self._store = store
        self._ttl = ttl
        self._wait = wait

    async def run(
        self, scope: str, key: str, body: bytes, call: Callable[[], Awaitable[Response]]
    ) -> Response:
        """Run ``call`` once for ``(scope, key)``, or replay its stored response.

        Raises:
            GatewayError: ``validation_error`` for a malformed key, ``idempotency_conflict``
                for a different body or a first request that does not finish in time.
        """
        if not _KEY.match(key):
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                "Idempotency-Key must be 1-255 printable ASCII characters",
                details={"header": "Idempotency-Key"},
            )
        request_hash = hashlib.sha256(body).hexdigest()
        deadline = time.monotonic() + self._wait
        while True:
            record = await self._store.claim_idempotency_key(
                scope, key, request_hash, now(), self._ttl
            )
            if record is None:
                return await self._first(scope, key, call)
            if record.request_hash != request_hash:
                raise GatewayError(
                    ErrorCode.IDEMPOTENCY_CONFLICT,
                    "this Idempotency-Key was used with a different request body",
                )
            if record.status is None:
                record = await self._await_first(scope, key, deadline)
            if record is not None:
                return _replay(record)
            # The first request failed and released the key: claim it again.

    async def _first(
        self, scope: str, key: str, call: Callable[[], Awaitable[Response]]
    ) -> Response:
        try:
            response = await call()
        except BaseException:
            await self._store.release_idempotency_key(scope, key)
            raise
        if response.status_code >= 500 or response.status_code == 429:
            await self._store.release_idempotency_key(scope, key)
        else:
            headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
            await self._store.finish_idempotency_key(
                scope, key, response.status_code, headers, bytes(response.body)
            )
        return response

    async def _await_first(self, scope: str, key: str, deadline: float) -> IdempotencyRecord | None:
        """The finished record, or None if the first request released the key."""
        # The first request may run in another gateway process, so the only thing to wait
        # on is its row: poll it with a growing interval until it is finished or gone.
        delay = 0.01
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
            record = await self._store.get_idempotency_key(scope, key)
            if record is None or record.status is not None:
                return record
        raise GatewayError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "a request with this Idempotency-Key is still in progress; retry later",
            temporary=True,
            retry_after=1,
        )


def _replay(record: IdempotencyRecord) -> Response:
    assert record.status is not None
    headers = dict(record.headers)
    headers[REPLAYED_HEADER] = "true"
    return Response(record.body, record.status, headers=headers)
