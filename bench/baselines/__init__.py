"""Baselines: servers that do less than chatgate, loaded by the same harness, so that every
figure of chatgate can be a ratio measured in one run on one machine (``chatgate bench
compare``).

- ``relay``: a bare ``websockets`` server with a redis-py pub/sub relay between nodes. It speaks
  the part of chatgate's socket protocol that ``fanout`` and ``idle`` use, and stores nothing.
- ``post``: a bare Starlette ``POST`` endpoint on uvicorn that parses the JSON body and answers
  201, for ``ingest``.
- ``socketio/``: Node socket.io with its Redis adapter (``npm ci`` on demand when ``node``
  exists), driven by the harness's socket.io client mode (``bench/socketio_client.py``).
- ``topology``: starts them the way ``bench.nodes.Topology`` starts gateways.

They import nothing from chatgate: a baseline is what an engineer would write without it.
"""
