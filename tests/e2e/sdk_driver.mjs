// Drives the committed SDK bundle (gateway/web/dist/sdk.js) for tests/e2e/test_sdk_js.py, as a
// page would use it: commands come in on stdin and what the SDK emits goes out on stdout, one
// JSON object a line. Run with `node --experimental-websocket` on Node 20 (a global WebSocket).
//
//   {"id": 1, "do": "session"}                            opens a widget session, makes the client
//   {"id": 2, "do": "call", "method": "send", "args": [...]}    awaits client.method(...args)
//   {"id": 3, "do": "rest", "method": "startConversation", "args": [...]}
//   {"id": 4, "do": "start", "method": "send", "args": [...]}  the same, not awaited: its result
//                                                              comes later as {"settled": 4}
// Out: {"id": n, "ok": true, "value": ...} | {"id": n, "ok": false, "error": {code, message}}
//      {"emit": NAME, "value": ...} for every event the client emits.

import { createInterface } from "node:readline";
import { Chatgate, openWidgetSession } from "../../gateway/web/dist/sdk.js";

const [url, widgetId, token] = process.argv.slice(2);
const EMITS = ["state", "ready", "error", "new_message", "conversation.updated", "typing", "read", "gap"];

let client = null;

function out(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

function plain(error) {
  return { code: error.code ?? "js_error", message: String(error.message ?? error), closeCode: error.closeCode };
}

function make(withToken) {
  client = new Chatgate({ url, token: withToken, backoff: { initialMs: 50, maxMs: 400 }, heartbeatMs: 0 });
  for (const name of EMITS) {
    client.on(name, (value) => out({ emit: name, value: name === "error" ? plain(value) : value }));
  }
}

async function run(command) {
  switch (command.do) {
    case "session": {
      const session = await openWidgetSession({ url, widgetId }, { name: "Ann" });
      make(token ?? session.token);
      return session.contact.id;
    }
    case "call":
    case "start":
      return client[command.method](...(command.args ?? []));
    case "rest":
      return client.rest[command.method](...(command.args ?? []));
    default:
      throw new Error(`unknown command ${command.do}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  const result = run(command).then(
    (value) => ({ ok: true, value: value ?? null }),
    (error) => ({ ok: false, error: plain(error) }),
  );
  if (command.do === "start") {
    out({ id: command.id, ok: true, value: null });
    result.then((settled) => out({ settled: command.id, ...settled }));
  } else {
    out({ id: command.id, ...(await result) });
  }
}
client?.close();
