"""The socket layer beneath the app: chatgate's own uvicorn WebSocket protocol.

``protocol.SocketProtocol`` speaks WebSocket on the connection uvicorn upgrades (the
handshake, reading, control frames and the closing handshake, on ``websockets``' sans-I/O
``ServerProtocol``) and hands the app the ASGI messages it always had, plus one extension
(``WIRE_EXTENSION``): an ``Outlet`` that takes complete, pre-built frames. An event's frame
is built once per codec (``framing``) and the same bytes go to every socket; the frames one
socket is given in one event-loop iteration leave in one write (``outlet``). Keepalive pings
come from one timer per process (``keepalive``), not one per connection.
"""

from gateway.realtime.wire.outlet import WIRE_EXTENSION, TransportOutlet

__all__ = ["WIRE_EXTENSION", "TransportOutlet"]
