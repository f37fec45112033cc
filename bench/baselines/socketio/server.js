// The socket.io baseline: socket.io 4 with its Redis adapter, one process per node, nothing
// stored, as the socket.io documentation sets it up for several nodes. chatgate bench loads it
// with the same load generator as chatgate (bench/socketio_client.py speaks Engine.IO v4 over a
// raw WebSocket).
//
//     node server.js --port 9003 --redis-url redis://127.0.0.1:6379
//
// Events, each answered through its acknowledgement:
//   subscribe {conversation_id}    joins the room; ack {last_seq}
//   unsubscribe {conversation_id}  leaves it; ack {}
//   message.send {conversation_id, content}
//       numbers the message, emits "new_message" {conversation_id, seq, content} to the room
//       (the adapter writes local members at once and publishes to Redis for the other nodes);
//       ack {seq}
//
// seq comes from a counter per room in the memory of the node that publishes, as in the bare
// relay (bench/baselines/relay.py says why): fanout and idle publish each room's messages
// through one node. The handshake's auth token is not checked. Server pings every 20 s
// (chatgate's interval), permessage-deflate off, websocket transport only, inbound messages up
// to 64 KiB: chatgate's settings where socket.io has them. bufferutil is installed, as the
// socket.io performance notes advise.
"use strict";

const http = require("node:http");
const { parseArgs } = require("node:util");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      "redis-url": { type: "string" },
    },
  });
  if (!values.port || !values["redis-url"]) {
    console.error("usage: node server.js --port PORT --redis-url URL [--host HOST]");
    process.exit(2);
  }
  const pub = createClient({ url: values["redis-url"] });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) {
    client.on("error", (error) => console.error("redis:", error.message));
  }
  await Promise.all([pub.connect(), sub.connect()]);

  // socket.io takes the requests under /socket.io/ and leaves the others to this listener.
  const server = http.createServer((request, response) => {
    const ok = request.url === "/readyz" || request.url === "/healthz";
    response.writeHead(ok ? 200 : 404, { "content-type": "text/plain" });
    response.end(ok ? "ok\n" : "not found\n");
  });
  const io = new Server(server, {
    adapter: createAdapter(pub, sub),
    transports: ["websocket"],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    pingInterval: 20000,
    pingTimeout: 20000,
    maxHttpBufferSize: 64 * 1024,
  });

  const counters = new Map();
  io.on("connection", (socket) => {
    // A client that asks for no acknowledgement, or sends no object, gets nothing back.
    const on = (name, handle) =>
      socket.on(name, (body, ack) => {
        if (typeof ack === "function" && body && typeof body.conversation_id === "string") {
          ack(handle(body.conversation_id, body));
        }
      });
    on("subscribe", (room) => {
      socket.join(room);
      return { last_seq: counters.get(room) ?? 0 };
    });
    on("unsubscribe", (room) => {
      socket.leave(room);
      return {};
    });
    on("message.send", (room, body) => {
      const seq = (counters.get(room) ?? 0) + 1;
      counters.set(room, seq);
      io.to(room).emit("new_message", { conversation_id: room, seq, content: body.content });
      return { seq };
    });
  });

  server.listen(Number(values.port), values.host);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
