// Batched frames: the gateway may send several frames as one array; each is handled exactly
// as if it had come alone, in the array's order.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CONV, harness, HELLO, message, messageFrame, settle } from "./fakes.js";

test("batching: an array frame of events, replies and volatile events is handled like the frames one by one", async () => {
  const single = harness();
  const batched = harness();
  for (const h of [single, batched]) {
    void h.client.subscribe(CONV);
    void h.client.connect();
    await settle();
    h.socket().accept();
  }
  const hello = (h: typeof single) => ({
    op: "reply",
    ref: h.socket().last("hello").ref,
    ok: true,
    data: { ...HELLO, resume: { [CONV]: { ok: true, last_seq: 3 } } },
  });
  const typing = {
    op: "event",
    event: "typing",
    conversation_id: CONV,
    seq: null,
    data: { on: true, role: "agent", sender_id: "a1" },
  };
  const read = {
    op: "event",
    event: "read",
    conversation_id: CONV,
    seq: null,
    data: { seq: 2, role: "agent", reader_id: "a1" },
  };
  const frames = (h: typeof single) => [
    hello(h),
    messageFrame(1),
    typing,
    messageFrame(2),
    read,
    messageFrame(3),
  ];

  for (const frame of frames(single)) single.socket().push(frame);
  batched.socket().push(frames(batched));
  await settle();

  const names = (h: typeof single) => h.seen.filter((e) => e.name !== "state").map((e) => e.name);
  assert.deepEqual(names(batched), names(single));
  assert.deepEqual(names(batched), [
    "ready",
    "new_message",
    "typing",
    "new_message",
    "read",
    "new_message",
  ]);
  assert.deepEqual(batched.seqs(), [1, 2, 3]);
  assert.equal(batched.client.state, "open");
});

test("batching: a reply inside a batch resolves its request", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  const sent = h.client.send(CONV, "hi", { clientMessageId: "c-9" });
  const ref = ws.last("message.send").ref;
  ws.push([
    {
      op: "event",
      event: "typing",
      conversation_id: CONV,
      seq: null,
      data: { on: false, role: "visitor", sender_id: "contact-1" },
    },
    { op: "reply", ref, ok: true, data: message(1, { content: "hi", client_message_id: "c-9" }) },
  ]);
  assert.equal((await sent).client_message_id, "c-9");
});

test("batching: a frame that is not JSON is reported and the socket stays open", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  ws.onmessage?.({ data: "{not json" });
  ws.onmessage?.({ data: "[1, 2]" });
  assert.deepEqual(h.errors(), ["bad_request", "bad_request"]);
  assert.equal(h.client.state, "open");
});
