"""``/ws`` on the wire, as a client sees it: a real ``chatgate serve`` over real TCP, read
frame by frame (control frames included) with websockets' sans-I/O client, and bytes no
conforming client sends, built by hand.

These tests pin what a client sees of the socket layer: handshake statuses and headers, close
codes, pings and pongs, the slow-consumer cut. They were written against uvicorn's
``websockets-sansio`` protocol and hold on its replacement, ``gateway/realtime/wire`` (issue
18), which also answers a handshake of another WebSocket version with 426 and the version it
speaks (RFC 6455 4.2.2; uvicorn's answered a bare 400); a layer that answers differently must
say so here. (The 1012 of a stopped gateway
is in ``test_socket_shutdown.py``.)

One gateway serves the module, with small limits so each case is cheap: frames of at most
4096 bytes, 1 s to say hello, a ping every 0.5 s, 16 queued frames per socket, and only the
host ``127.0.0.1`` answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import orjson
import pytest
import pytest_asyncio
from websockets.frames import Close, Opcode

from gateway.handlers.orgs import OrgCredentials
from protocol.codes import CloseCode
from tests.processes import gateway_process
from tests.support import api, new_org, timeout
from tests.wire import WireClient, frame, http_exchange, upgrade_request

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MAX_FRAME = 4096
SETTINGS = {
    "CHATGATE_SECRET_KEY": "test-secret-key-of-decent-length!",
    "CHATGATE_BOOTSTRAP": "false",
    "CHATGATE_ALLOWED_HOSTS": "127.0.0.1",
    "CHATGATE_MAX_FRAME_BYTES": str(MAX_FRAME),
    "CHATGATE_HELLO_TIMEOUT": "1",
    "CHATGATE_WS_PING_INTERVAL": "0.5",
    "CHATGATE_SEND_QUEUE_SIZE": "16",
    "CHATGATE_MAX_BATCH": "4",
    "CHATGATE_REVOCATION_CHECK_INTERVAL": "0.2",
    # One visitor floods a conversation and many sockets open from one address.
    "CHATGATE_VISITOR_REQUESTS_PER_MINUTE": "0",
    "CHATGATE_ADDRESS_REQUESTS_PER_MINUTE": "0",
    "CHATGATE_ADDRESS_SESSIONS_PER_MINUTE": "0",
}
SHOP = "https://shop.example"


def _named(value: object) -> str | None:
    """A parametrized case's id: its name; the bytes of a hand-built frame get none."""
    return "" if isinstance(value, bytes) else None


@dataclass(frozen=True)
class Gateway:
    url: str
    #: The ``Host`` clients send (``127.0.0.1:PORT``).
    host: str
    org: OrgCredentials
    #: An org whose widget allows only ``SHOP``.
    shop: OrgCredentials


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    root = tmp_path_factory.mktemp("wire")
    database_url = f"sqlite:///{root}/chatgate.db"
    async with gateway_process(root / "logs", "--database-url", database_url, env=SETTINGS) as gw:
        org = await new_org(database_url, "Acme")
        shop = await new_org(database_url, "Shop", origins=(SHOP,))
        yield Gateway(gw.url, gw.url.removeprefix("http://"), org, shop)


class Sockets:
    """Opens sockets on the module's gateway; the test's teardown drops what is left."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.opened: list[WireClient] = []

    async def open(self, **options: Any) -> WireClient:
        client = await WireClient.connect(self.gateway.url, **options)
        self.opened.append(client)
        return client

    async def hello(self, token: str | None = None, **options: Any) -> WireClient:
        """A socket past ``hello`` (with the org's API key unless told)."""
        client = await self.open(**options)
        await client.hello(token or self.gateway.org.api_key)
        return client


@pytest.fixture
def sockets(gateway: Gateway) -> Iterator[Sockets]:
    opened = Sockets(gateway)
    yield opened
    for client in opened.opened:
        client.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=timeout(30)) as client:
        yield client


async def visitor(
    http: httpx.AsyncClient, org: OrgCredentials, origin: str | None = None
) -> tuple[str, str]:
    """A visitor's token (from a page on ``origin``) and a conversation of theirs."""
    headers = {} if origin is None else {"Origin": origin}
    path = f"/v1/widgets/{org.widget_id}/sessions"
    token = (await api(http, "POST", path, json={}, headers=headers))["token"]
    conversation = await api(http, "POST", "/v1/conversations", token, json={}, headers=headers)
    return token, conversation["id"]


def ping(ref: str = "p", pad_to: int = 0) -> bytes:
    """A ``ping`` op as JSON, padded with trailing spaces (still JSON) to ``pad_to`` bytes."""
    return orjson.dumps({"op": "ping", "ref": ref}).ljust(pad_to)


async def closed_with(client: WireClient) -> Close:
    """The server's close frame, after which the server must end TCP."""
    close = await client.close_frame()
    assert await client.tcp_ended(), "the server kept TCP open after its close frame"
    return close


# -- handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["chatgate.json"], "chatgate.json"),
        (["chatgate.msgpack"], "chatgate.msgpack"),
        (["chatgate.json", "chatgate.msgpack"], "chatgate.json"),
        (["chatgate.msgpack", "chatgate.json"], "chatgate.msgpack"),
        (["x-unknown", "chatgate.msgpack", "chatgate.json"], "chatgate.msgpack"),
    ],
)
async def test_wire_handshake_first_offered_codec_wins(
    sockets: Sockets, offered: list[str], chosen: str
) -> None:
    """101 with the first of the client's offered subprotocols that is ours; that codec's
    frame type carries the hello reply (text for JSON, binary for msgpack)."""
    client = await sockets.open(subprotocols=offered)
    assert client.response.status_code == 101
    assert client.response.headers.get_all("Sec-WebSocket-Protocol") == [chosen]
    data = await client.hello(sockets.gateway.org.api_key)
    assert data["principal"]["kind"] == "api_key"
    binary = chosen == "chatgate.msgpack"
    assert client.last_opcode is (Opcode.BINARY if binary else Opcode.TEXT)


async def test_wire_handshake_offers_on_several_header_lines_are_read(sockets: Sockets) -> None:
    """Offers split over two ``Sec-WebSocket-Protocol`` lines count as one list."""
    client = await sockets.open(
        subprotocols=["x-unknown", "chatgate.msgpack"],
        headers=[
            ("Sec-WebSocket-Protocol", "x-unknown"),
            ("Sec-WebSocket-Protocol", "chatgate.msgpack"),
        ],
    )
    assert client.response.headers.get_all("Sec-WebSocket-Protocol") == ["chatgate.msgpack"]
    await client.hello(sockets.gateway.org.api_key)
    assert client.last_opcode is Opcode.BINARY


async def test_wire_handshake_none_offered_is_json_without_protocol_header(
    sockets: Sockets,
) -> None:
    """No subprotocol offered: 101 without ``Sec-WebSocket-Protocol``, JSON in text frames."""
    client = await sockets.open()
    assert client.response.status_code == 101
    assert "Sec-WebSocket-Protocol" not in client.response.headers
    await client.hello(sockets.gateway.org.api_key)
    assert client.last_opcode is Opcode.TEXT


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("Connection: keep-alive, Upgrade", {"headers": [("Connection", "keep-alive, Upgrade")]}),
        ("Upgrade: WebSocket", {"headers": [("Upgrade", "WebSocket")]}),
        ("lower-case header names", {"lower_case_names": True}),
        ("an Origin", {"headers": [("Origin", "https://anywhere.example")]}),
        ("a query string", {"path": "/ws?client=wire"}),
    ],
)
async def test_wire_handshake_accepted_variants(
    sockets: Sockets, case: str, options: dict[str, Any]
) -> None:
    """Handshakes as browsers and libraries send them are accepted alike (101, hello)."""
    client = await sockets.open(**options)
    assert client.response.status_code == 101, case
    await client.hello(sockets.gateway.org.api_key)


async def test_wire_handshake_compression_offer_is_declined(sockets: Sockets) -> None:
    """permessage-deflate offered (as browsers do): accepted without it, no extension."""
    offer = "permessage-deflate; client_max_window_bits"
    client = await sockets.open(headers=[("Sec-WebSocket-Extensions", offer)])
    assert "Sec-WebSocket-Extensions" not in client.response.headers
    await client.hello(sockets.gateway.org.api_key)


@pytest.mark.parametrize(
    ("case", "path", "method", "headers", "status"),
    [
        ("only unknown subprotocols", "/ws", "GET", {"Sec-WebSocket-Protocol": "a, b"}, 403),
        ("no version", "/ws", "GET", {"Sec-WebSocket-Version": None}, 400),
        ("no key", "/ws", "GET", {"Sec-WebSocket-Key": None}, 400),
        ("key not base64", "/ws", "GET", {"Sec-WebSocket-Key": "not a key!"}, 400),
        ("key of 8 bytes", "/ws", "GET", {"Sec-WebSocket-Key": "AAAAAAAAAAA="}, 400),
        ("another path", "/wss", "GET", {}, 403),
        ("a trailing slash", "/ws/", "GET", {}, 403),
        ("POST", "/ws", "POST", {}, 405),
    ],
)
async def test_wire_handshake_refused(
    gateway: Gateway,
    case: str,
    path: str,
    method: str,
    headers: dict[str, str | None],
    status: int,
) -> None:
    """A handshake that cannot be accepted gets a plain HTTP status (never 101, never a 500)
    and the server ends the connection."""
    request = upgrade_request(gateway.host, path=path, method=method, headers=headers)
    answer = await http_exchange(gateway.url, request)
    assert answer.status == status, (case, answer)
    assert answer.closed, case
    assert "Sec-WebSocket-Accept" not in answer.headers
    if method == "POST":
        assert answer.headers["Allow"] == "GET"


async def test_wire_handshake_wrong_version_names_the_supported_one(gateway: Gateway) -> None:
    """A handshake of another WebSocket version is told which version the server speaks."""
    request = upgrade_request(gateway.host, headers={"Sec-WebSocket-Version": "8"})
    answer = await http_exchange(gateway.url, request)
    assert answer.status == 426
    assert answer.headers.get("Sec-WebSocket-Version") == "13"


async def test_wire_handshake_other_host_refused_with_envelope(gateway: Gateway) -> None:
    """With allowed hosts set, a handshake naming another host gets 400 ``bad_request`` in
    the standard JSON envelope with its request id, and the connection ends."""
    answer = await http_exchange(gateway.url, upgrade_request("attacker.example"))
    assert answer.status == 400
    assert answer.closed
    body = orjson.loads(answer.body)
    assert body["error"]["code"] == "bad_request"
    assert answer.headers["X-Request-Id"] == body["request_id"]
    assert answer.headers["Content-Type"] == "application/json"


async def test_wire_plain_get_on_ws_is_not_found(http: httpx.AsyncClient) -> None:
    """``GET /ws`` without an upgrade is an ordinary request: 404 ``not_found``."""
    response = await http.get("/ws")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# -- frames ----------------------------------------------------------------------------------


async def test_wire_fragmented_hello_with_a_ping_between_fragments(sockets: Sockets) -> None:
    """A hello in three fragments with a ping between two of them: the pong carries the
    ping's payload and comes first, then the hello is answered."""
    client = await sockets.open()
    hello = orjson.dumps({"op": "hello", "ref": "h", "token": sockets.gateway.org.api_key})
    client.send_text(hello[:7], fin=False)
    client.send_ping(b"between fragments")
    client.send_continuation(hello[7:20], fin=False)
    client.send_continuation(hello[20:], fin=True)
    pong = await client.next_frame()
    assert (pong.opcode, bytes(pong.data)) == (Opcode.PONG, b"between fragments")
    reply = await client.next_message()
    assert (reply["ref"], reply["ok"]) == ("h", True)


async def test_wire_a_character_split_between_fragments_is_text(sockets: Sockets) -> None:
    """UTF-8 is checked over the whole message: a character cut in two by a fragment
    boundary is fine."""
    client = await sockets.hello()
    client.send_text(b'{"op": "ping", "ref": "caf\xc3', fin=False)
    client.send_continuation(b'\xa9"}', fin=True)
    reply = await client.next_message()
    assert (reply["ref"], reply["ok"]) == ("café", True)


async def test_wire_msgpack_session_speaks_binary_frames(
    sockets: Sockets, http: httpx.AsyncClient
) -> None:
    """On ``chatgate.msgpack`` replies and events are binary msgpack frames; a text frame
    after hello answers ``bad_request`` and the socket stays open."""
    token, cid = await visitor(http, sockets.gateway.org)
    client = await sockets.hello(token, subprotocols=["chatgate.msgpack"])
    assert (await client.request("subscribe", conversation_id=cid))["ok"]
    sent = await client.request("message.send", conversation_id=cid, content="über")
    assert sent["ok"] and sent["data"]["seq"] == 1
    event = await client.next_item()
    assert client.last_opcode is Opcode.BINARY
    assert (event["event"], event["seq"], event["data"]["content"]) == ("new_message", 1, "über")

    client.send_text(orjson.dumps({"op": "ping", "ref": "t"}))
    refused = await client.next_message()
    assert client.last_opcode is Opcode.BINARY
    assert (refused["ref"], refused["ok"]) == (None, False)
    assert refused["error"]["code"] == "bad_request"
    assert (await client.request("ping"))["ok"]


async def test_wire_json_session_reads_a_binary_frame_of_json(sockets: Sockets) -> None:
    """On ``chatgate.json`` a binary frame holding JSON is read like text; the reply is
    text."""
    client = await sockets.hello(subprotocols=["chatgate.json"])
    client.send_binary(ping("b"))
    reply = await client.next_message()
    assert (reply["ref"], reply["ok"], client.last_opcode) == ("b", True, Opcode.TEXT)


@pytest.mark.parametrize(
    ("case", "data"),
    # Named by case alone: the frames carry random mask keys, and every xdist worker must
    # collect the same test ids.
    ids=_named,
    argvalues=[
        ("unmasked frame", frame(Opcode.TEXT, ping(), mask=False)),
        ("RSV1 set", frame(Opcode.TEXT, ping(), rsv=0b100)),
        ("RSV2 set", frame(Opcode.TEXT, ping(), rsv=0b010)),
        ("RSV3 set", frame(Opcode.TEXT, ping(), rsv=0b001)),
        ("opcode 0x3", frame(0x3, ping())),
        ("opcode 0xB", frame(0xB, b"x")),
        ("ping of 126 bytes", frame(Opcode.PING, b"x" * 126)),
        ("fragmented ping", frame(Opcode.PING, b"x", fin=False) + frame(Opcode.CONT, b"y")),
        ("continuation without a start", frame(Opcode.CONT, ping())),
        (
            "new message before the last ended",
            frame(Opcode.TEXT, b"{", fin=False) + frame(Opcode.TEXT, b"{}"),
        ),
        ("close frame of one byte", frame(Opcode.CLOSE, b"\x03")),
        ("close code 999", frame(Opcode.CLOSE, struct.pack("!H", 999))),
        ("close code 1005", frame(Opcode.CLOSE, struct.pack("!H", 1005))),
    ],
)
async def test_wire_protocol_violation_closes_1002(
    sockets: Sockets, case: str, data: bytes
) -> None:
    """A frame that breaks RFC 6455 closes the session with 1002, then TCP ends."""
    client = await sockets.hello()
    client.send_raw(data)
    assert (await closed_with(client)).code == 1002, case


@pytest.mark.parametrize(
    ("case", "data"),
    # Named by case alone: the frames carry random mask keys, and every xdist worker must
    # collect the same test ids.
    ids=_named,
    argvalues=[
        ("text frame", frame(Opcode.TEXT, b'{"op": "ping", "ref": "\xff\xfe"}')),
        (
            "fragmented text",
            frame(Opcode.TEXT, b'{"op": "ping", ', fin=False)
            + frame(Opcode.CONT, b'"ref": "\xc3("}'),
        ),
        ("close reason", frame(Opcode.CLOSE, struct.pack("!H", 1000) + b"\xff")),
    ],
)
async def test_wire_invalid_utf8_closes_1007(sockets: Sockets, case: str, data: bytes) -> None:
    """Text that is not UTF-8 closes the session with 1007, then TCP ends."""
    client = await sockets.hello()
    client.send_raw(data)
    assert (await closed_with(client)).code == 1007, case


# -- close codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [(1000, "bye"), (4321, "")])
async def test_wire_client_close_is_echoed_and_tcp_ends(
    sockets: Sockets, code: int, reason: str
) -> None:
    """The client's close frame comes back with its code and reason, then TCP ends."""
    client = await sockets.hello()
    client.send_close(code, reason)
    close = await closed_with(client)
    assert (close.code, close.reason) == (code, reason)


async def test_wire_client_close_without_a_code_is_echoed_empty(sockets: Sockets) -> None:
    """An empty close frame is answered with an empty close frame."""
    client = await sockets.hello()
    client.send_raw(frame(Opcode.CLOSE))
    received = await client.next_frame()
    assert (received.opcode, bytes(received.data)) == (Opcode.CLOSE, b"")
    assert await client.tcp_ended()


async def test_wire_no_hello_in_time_closes_4001(sockets: Sockets) -> None:
    """A socket that never says hello is closed with 4001 (a ping does not count)."""
    client = await sockets.open()
    client.send_ping(b"still here")
    assert (await closed_with(client)).code == CloseCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("case", "first", "code"),
    [
        ("bad token", {"op": "hello", "ref": 1, "token": "nope"}, CloseCode.UNAUTHENTICATED),
        ("API key unknown", {"op": "hello", "token": "cgk_unknown"}, CloseCode.UNAUTHENTICATED),
        ("no token", {"op": "hello", "ref": 1}, CloseCode.UNAUTHENTICATED),
        ("another op first", {"op": "ping", "ref": 1}, CloseCode.UNAUTHENTICATED),
        ("not an op frame", [1, 2], CloseCode.PROTOCOL_ERROR),
        ("not JSON", b"{nope", CloseCode.PROTOCOL_ERROR),
    ],
)
async def test_wire_first_frame_refused(
    sockets: Sockets, case: str, first: Any, code: CloseCode
) -> None:
    """A first frame that is not a good hello closes: 4001 for an op frame that is not an
    authenticated hello, 4400 for a frame that is not even an op frame."""
    client = await sockets.open()
    client.send_text(first if isinstance(first, bytes) else orjson.dumps(first))
    assert (await closed_with(client)).code == code, case


async def test_wire_first_text_frame_on_msgpack_closes_4400(sockets: Sockets) -> None:
    """On ``chatgate.msgpack`` a text hello is not a frame of the session's codec: 4400."""
    client = await sockets.open(subprotocols=["chatgate.msgpack"])
    client.send_text(orjson.dumps({"op": "hello", "token": sockets.gateway.org.api_key}))
    assert (await closed_with(client)).code == CloseCode.PROTOCOL_ERROR


async def test_wire_visitor_from_another_origin_closes_4003(
    sockets: Sockets, http: httpx.AsyncClient
) -> None:
    """A visitor token used from an origin its widget does not allow: 4003; from the
    allowed origin the same token says hello."""
    token, _ = await visitor(http, sockets.gateway.shop, SHOP)
    stranger = await sockets.open(headers=[("Origin", "https://attacker.example")])
    stranger.send({"op": "hello", "ref": 1, "token": token})
    assert (await closed_with(stranger)).code == CloseCode.FORBIDDEN
    await sockets.hello(token, headers=[("Origin", SHOP)])


async def test_wire_revoked_api_key_closes_idle_socket_4001(
    sockets: Sockets, http: httpx.AsyncClient
) -> None:
    """An idle socket of an API key revoked meanwhile is closed by the server with 4001."""
    org = sockets.gateway.org
    created = await api(http, "POST", "/v1/api-keys", org.api_key, json={"name": "wire"})
    client = await sockets.hello(created["secret"])
    await api(http, "DELETE", f"/v1/api-keys/{created['api_key']['id']}", org.api_key)
    assert (await closed_with(client)).code == CloseCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("case", "codec", "fragments"),
    [
        ("one frame", "chatgate.json", [MAX_FRAME + 1]),
        ("one binary frame", "chatgate.msgpack", [MAX_FRAME + 1]),
        ("fragments", "chatgate.json", [2000, 2000, MAX_FRAME - 4000 + 1]),
    ],
)
async def test_wire_message_over_the_limit_closes_1009(
    sockets: Sockets, case: str, codec: str, fragments: list[int]
) -> None:
    """A message over the frame limit, in one frame or in fragments each under it: 1009."""
    client = await sockets.hello(subprotocols=[codec])
    opcode = Opcode.BINARY if codec == "chatgate.msgpack" else Opcode.TEXT
    data = b""
    for index, size in enumerate(fragments):
        last = index == len(fragments) - 1
        data += frame(opcode if index == 0 else Opcode.CONT, b" " * size, fin=last)
    client.send_raw(data)
    assert (await closed_with(client)).code == CloseCode.MESSAGE_TOO_BIG, case


async def test_wire_message_at_the_limit_is_read(sockets: Sockets) -> None:
    """A message of exactly the frame limit is read, in one frame and in fragments."""
    client = await sockets.hello()
    client.send_text(ping("one", MAX_FRAME))
    assert (await client.next_message())["ref"] == "one"
    whole = ping("three", MAX_FRAME)
    client.send_text(whole[:1000], fin=False)
    client.send_continuation(whole[1000:3000], fin=False)
    client.send_continuation(whole[3000:], fin=True)
    assert (await client.next_message())["ref"] == "three"


# -- ping and pong ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"abc", bytes(range(125))])
async def test_wire_client_ping_answered_with_its_payload(sockets: Sockets, payload: bytes) -> None:
    """A ping, before hello and after, is answered by a pong with the same payload."""
    client = await sockets.open()
    client.send_ping(payload)
    pong = await client.next_frame()
    assert (pong.opcode, bytes(pong.data)) == (Opcode.PONG, payload)
    await client.hello(sockets.gateway.org.api_key)
    client.send_ping(payload[::-1])
    pong = await client.next_frame()
    assert (pong.opcode, bytes(pong.data)) == (Opcode.PONG, payload[::-1])


async def test_wire_server_pings_and_an_unsolicited_pong_is_ignored(sockets: Sockets) -> None:
    """With a ping interval set the server pings (again after each answer); a pong nobody
    asked for changes nothing."""
    client = await sockets.hello()
    client.send_raw(frame(Opcode.PONG, b"unsolicited"))
    first = await client.next_frame(pings=True)
    second = await client.next_frame(pings=True)
    assert (first.opcode, second.opcode) == (Opcode.PING, Opcode.PING)
    assert (await client.request("ping"))["ok"]


# -- slow reader -----------------------------------------------------------------------------


def event_seqs(message: Any) -> list[int]:
    items = message if isinstance(message, list) else [message]
    return [item["seq"] for item in items if item.get("op") == "event"]


async def read_seqs(client: WireClient, count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        seqs += event_seqs(await client.next_message(seconds=60))
    return seqs


class SeqReader:
    """Reads a socket's event seqs in the background (``async with``), for a count known
    only later."""

    def __init__(self, client: WireClient) -> None:
        self.client = client
        self.seqs: list[int] = []
        self._more = asyncio.Event()

    async def __aenter__(self) -> SeqReader:
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self) -> None:
        try:
            while True:
                self.seqs += event_seqs(await self.client.next_message(seconds=60))
                self._more.set()
        finally:
            self._more.set()  # a reader that failed wakes ``until``, which raises its error

    async def until(self, count: int, seconds: float = 60) -> list[int]:
        """The seqs read, once there are ``count``."""
        async with asyncio.timeout(timeout(seconds)):
            while len(self.seqs) < count:
                if self._task.done():
                    self._task.result()
                self._more.clear()
                await self._more.wait()
        return self.seqs


async def post_all(http: httpx.AsyncClient, cid: str, token: str, contents: list[str]) -> None:
    """Post these messages at once (the store may commit them together)."""
    path = f"/v1/conversations/{cid}/messages"
    await asyncio.gather(*(api(http, "POST", path, token, json={"content": c}) for c in contents))


async def slow_consumers(http: httpx.AsyncClient) -> float:
    """``chatgate_slow_consumers_total`` (docs/operations.md)."""
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("chatgate_slow_consumers_total "):
            return float(line.split()[1])
    raise AssertionError("no chatgate_slow_consumers_total in /metrics")


async def test_wire_slow_reader_closed_4008_nothing_lost(
    sockets: Sockets, http: httpx.AsyncClient
) -> None:
    """A subscriber that stops reading is cut with 4008 (after what was on its way, nothing
    more); a reading subscriber gets every event; every message is stored and a resume by
    seq brings the rest."""
    token, cid = await visitor(http, sockets.gateway.org)
    fast = await sockets.hello(token)
    assert (await fast.request("subscribe", conversation_id=cid))["ok"]
    slow = await sockets.hello(token, rcvbuf=4096)
    assert (await slow.request("subscribe", conversation_id=cid))["ok"]
    # From here on nothing reads ``slow``: its kernel buffers fill, then the server's
    # (a few MB on loopback), then its queue of 16 frames.

    cut_before = await slow_consumers(http)
    sent: list[str] = []

    async def send(count: int) -> None:
        # 8 at a time: fewer than the 16 frames a socket may have waiting, even when the
        # store commits them together and they are published in one loop iteration.
        for _ in range(0, count, 8):
            batch = [f"{len(sent) + n} {'x' * 19_990}" for n in range(min(8, count))]
            await post_all(http, cid, token, batch)
            sent.extend(batch)
            count -= len(batch)

    async with SeqReader(fast) as fast_reading:
        # In rounds until the metric shows the cut, so the test ends soon after it; the cap
        # (about twice what loopback's buffers hold) makes sure of the cut without it.
        while len(sent) < 400 and await slow_consumers(http) == cut_before:
            await send(24)
        await send(5)  # after the cut: these never reach the slow socket
        assert await fast_reading.until(len(sent)) == list(range(1, len(sent) + 1))

    received: list[int] = []
    while (got := await slow.next_frame(seconds=30)).opcode is not Opcode.CLOSE:
        if got.opcode is Opcode.TEXT:
            received += event_seqs(orjson.loads(got.data))
    assert Close.parse(got.data).code == CloseCode.SLOW_CONSUMER
    assert await slow.tcp_ended()
    # How much was on its way at the cut is the layer's business; nothing comes after it.
    assert received == list(range(1, len(received) + 1)), "in order until the cut"
    assert len(received) <= len(sent) - 5, "nothing after the cut"
    assert (await fast.request("ping"))["ok"], "the reader's socket is untouched"

    stored: list[dict[str, Any]] = []
    while len(stored) < len(sent):
        page = await api(
            http,
            "GET",
            f"/v1/conversations/{cid}/messages",
            token,
            params={"after_seq": len(stored), "limit": 200},
        )
        assert page["data"], "every message sent is stored"
        stored += page["data"]
    assert [m["seq"] for m in stored] == list(range(1, len(sent) + 1))
    assert sorted(m["content"] for m in stored) == sorted(sent)

    resumed = await sockets.open()
    last = received[-1] if received else 0
    data = await resumed.hello(token, resume={cid: last})
    assert data["resume"][cid] == {"ok": True, "last_seq": len(sent)}
    assert await read_seqs(resumed, len(sent) - last) == list(range(last + 1, len(sent) + 1))


async def test_wire_burst_of_events_does_not_cut_a_reading_client(
    sockets: Sockets, http: httpx.AsyncClient
) -> None:
    """Many messages at once into a conversation (more than a socket's send queue): a
    subscriber that reads gets every event and stays open; nobody is cut."""
    token, cid = await visitor(http, sockets.gateway.org)
    reader = await sockets.hello(token)
    assert (await reader.request("subscribe", conversation_id=cid))["ok"]
    cut_before = await slow_consumers(http)
    await post_all(http, cid, token, [f"burst {n}" for n in range(100)])
    assert await read_seqs(reader, 100) == list(range(1, 101))
    assert (await reader.request("ping"))["ok"]
    assert await slow_consumers(http) == cut_before


async def test_wire_a_client_that_answers_no_ping_is_closed_1011(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A peer that stops answering pings (a dead NAT mapping, a frozen tab) is closed with
    1011 once its ping waited ``CHATGATE_WS_PING_TIMEOUT``; one that answers stays open. A
    gateway of its own: the module's would cut the slow reader the same way."""
    root = tmp_path_factory.mktemp("keepalive")
    database_url = f"sqlite:///{root}/chatgate.db"
    env = {**SETTINGS, "CHATGATE_WS_PING_INTERVAL": "0.3", "CHATGATE_WS_PING_TIMEOUT": "0.3"}
    async with gateway_process(root / "logs", "--database-url", database_url, env=env) as gw:
        org = await new_org(database_url, "Acme")
        silent = await WireClient.connect(gw.url)
        answering = await WireClient.connect(gw.url)
        try:
            await silent.hello(org.api_key)  # past hello: no 4001 for want of one
            await answering.hello(org.api_key)
            # The silent client reads nothing (so answers nothing) for a few ping rounds.
            deadline = asyncio.get_running_loop().time() + 1.5
            while asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(TimeoutError):
                    await answering.next_frame(seconds=0.1, pings=True)
            close = await silent.close_frame()
            assert close.code == 1011
            assert await silent.tcp_ended()
            answering.send_ping(b"still")
            pong = await answering.next_frame(pings=False)
            assert (pong.opcode, bytes(pong.data)) == (Opcode.PONG, b"still")
        finally:
            silent.aclose()
            answering.aclose()
