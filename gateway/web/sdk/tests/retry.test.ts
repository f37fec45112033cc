// Sends and their retries: a send cut off by a drop goes again after the next hello with the
// same client_message_id; the gateway stores it once and the message is emitted once.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatgateError } from "../errors.js";
import { CONV, harness, message, messageFrame, settle } from "./fakes.js";

test("retry: a send cut off by a drop is sent again with its client_message_id, and the stored message is emitted once", async () => {
  const h = harness();
  void h.client.subscribe(CONV);
  void h.client.connect();
  const first = await h.open({ [CONV]: { ok: true, last_seq: 0 } });
  const sent = h.client.send(CONV, "Where is my order?");
  const frame = first.last("message.send");
  assert.equal(frame.content, "Where is my order?");
  const id = frame.client_message_id;
  assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(h.client.pendingSends(CONV).length, 1);

  // The gateway stored it (seq 1) but the socket dropped before the event and the reply.
  first.drop(1006);
  h.clock.advance(1_000);
  await settle();
  const second = h.socket();
  second.accept();
  assert.deepEqual(second.last("hello").resume, { [CONV]: 0 });
  assert.equal(second.frames("message.send").length, 0, "nothing is sent before the hello reply");
  second.push({
    op: "reply",
    ref: second.last("hello").ref,
    ok: true,
    data: {
      session_id: "s2",
      node: "n1",
      principal: { kind: "visitor", org_id: "o" },
      resume: { [CONV]: { ok: true, last_seq: 1 } },
    },
  });
  second.push(messageFrame(1, { content: "Where is my order?", client_message_id: String(id) }));
  await settle();
  const again = second.last("message.send");
  assert.equal(again.client_message_id, id);
  assert.equal(again.content, "Where is my order?");
  // The gateway answers the repeat with the original message.
  second.reply(
    "message.send",
    message(1, { content: "Where is my order?", client_message_id: String(id) }),
  );

  const stored = await sent;
  assert.equal(stored.seq, 1);
  await settle();
  assert.deepEqual(h.seqs(), [1]);
  assert.deepEqual(h.client.pendingSends(), []);
});

test("retry: a send made before connecting goes out after the hello", async () => {
  const h = harness();
  const sent = h.client.send(CONV, "early", { clientMessageId: "c-early" });
  assert.deepEqual(
    h.client.pendingSends().map((p) => [p.clientMessageId, p.content, p.attempts]),
    [["c-early", "early", 0]],
  );
  void h.client.connect();
  const ws = await h.open();
  assert.equal(ws.last("message.send").client_message_id, "c-early");
  ws.reply("message.send", message(1, { content: "early", client_message_id: "c-early" }));
  assert.equal((await sent).content, "early");
});

test("retry: sends go out in the order they were made, after a reconnect too", async () => {
  const h = harness();
  void h.client.connect();
  const first = await h.open();
  void h.client.send(CONV, "one", { clientMessageId: "c-1" });
  void h.client.send(CONV, "two", { clientMessageId: "c-2" });
  first.drop(1012);
  h.clock.advance(1_000);
  const second = await h.open();
  assert.deepEqual(
    second.frames("message.send").map((f) => f.client_message_id),
    ["c-1", "c-2"],
  );
});

test("retry: the same client_message_id sent twice while pending is one send", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  const a = h.client.send(CONV, "hi", { clientMessageId: "c-1" });
  const b = h.client.send(CONV, "hi", { clientMessageId: "c-1" });
  assert.equal(a, b);
  assert.equal(ws.frames("message.send").length, 1);
});

test("retry: unavailable is tried again after a backoff delay with the same id", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  const sent = h.client.send(CONV, "hi", { clientMessageId: "c-1" });
  ws.replyError("message.send", "unavailable", "storage down");
  await settle();
  assert.equal(ws.frames("message.send").length, 1);
  h.clock.advance(500);
  assert.deepEqual(
    ws.frames("message.send").map((f) => f.client_message_id),
    ["c-1", "c-1"],
  );
  ws.reply("message.send", message(1, { client_message_id: "c-1" }));
  assert.equal((await sent).seq, 1);
});

test("retry: a refusal rejects the send with the gateway's code and details, and drops it", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  const sent = h.client.send(CONV, "hi");
  ws.replyError("message.send", "rate_limited", "slow down", {
    scope: "visitor",
    limit: 120,
    remaining: 0,
    reset: 12,
  });
  await assert.rejects(sent, (error: unknown) => {
    assert.ok(error instanceof ChatgateError);
    assert.equal(error.code, "rate_limited");
    assert.deepEqual(error.details, { scope: "visitor", limit: 120, remaining: 0, reset: 12 });
    return true;
  });
  assert.deepEqual(h.client.pendingSends(), []);
});

test("retry: a message whose frame would be over 64 KiB is refused without being sent", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  await assert.rejects(h.client.send(CONV, "é".repeat(40_000)), { code: "payload_too_large" });
  assert.equal(ws.frames("message.send").length, 0);
  assert.deepEqual(h.client.pendingSends(), []);
});

test("retry: a reply that does not come in time gives the socket up; the send goes again on the next one", async () => {
  const h = harness({ requestTimeoutMs: 5_000 });
  void h.client.connect();
  const first = await h.open();
  const sent = h.client.send(CONV, "hi", { clientMessageId: "c-1" });
  h.clock.advance(5_000);
  assert.equal(first.closedByClient?.code, 4000);
  assert.equal(h.client.state, "reconnecting");
  h.clock.advance(1_000);
  const second = await h.open();
  assert.equal(second.last("message.send").client_message_id, "c-1");
  second.reply("message.send", message(1, { client_message_id: "c-1" }));
  assert.equal((await sent).seq, 1);
});

test("retry: close() rejects pending sends with closed", async () => {
  const h = harness();
  void h.client.connect();
  await h.open();
  const sent = h.client.send(CONV, "hi");
  h.client.close();
  await assert.rejects(sent, { code: "closed" });
  assert.equal(h.client.state, "closed");
  await assert.rejects(h.client.send(CONV, "after"), { code: "closed" });
});
