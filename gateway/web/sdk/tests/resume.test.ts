// Resume by seq: after a drop the client reconnects and its hello resumes every followed
// conversation from the last seq it emitted; replayed events are emitted in order, once.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CONV, harness, HELLO, messageFrame, settle, updatedFrame } from "./fakes.js";

test("resume: hello after a drop carries {conversation_id: last_seq} and replayed events are emitted once, in order", async () => {
  const h = harness();
  void h.client.connect();
  const first = await h.open();
  const subscribed = h.client.subscribe(CONV);
  assert.deepEqual(first.last("subscribe"), {
    op: "subscribe",
    ref: first.last("subscribe").ref,
    conversation_id: CONV,
    after_seq: 0,
  });
  first.reply("subscribe", { conversation_id: CONV, last_seq: 0 });
  assert.deepEqual(await subscribed, { conversation_id: CONV, last_seq: 0 });
  first.push(messageFrame(1));
  first.push(
    updatedFrame(2, { status: ["bot_active", "agent_requested"] }, { status: "agent_requested" }),
  );
  first.push(messageFrame(3));

  first.drop(1006);
  assert.equal(h.client.state, "reconnecting");
  h.clock.advance(1_000);
  await settle();
  const second = h.socket();
  assert.notEqual(second, first);
  second.accept();
  assert.deepEqual(second.last("hello").resume, { [CONV]: 3 });
  // The gateway replays 4 and 5 after the reply; a live 5 that raced the replay repeats it.
  second.push([
    {
      op: "reply",
      ref: second.last("hello").ref,
      ok: true,
      data: { ...HELLO, resume: { [CONV]: { ok: true, last_seq: 5 } } },
    },
    messageFrame(4),
    messageFrame(5),
  ]);
  second.push(messageFrame(5));
  second.push(messageFrame(3));
  await settle();

  assert.deepEqual(h.seqs(), [1, 2, 3, 4, 5]);
  assert.equal(h.client.lastSeq(CONV), 5);
  assert.equal(h.client.state, "open");
  const ready = h.seen
    .filter((e) => e.name === "ready")
    .map((e) => (e.value as { resumed: boolean }).resumed);
  assert.deepEqual(ready, [false, true]);
  // Resumed, not subscribed again.
  assert.equal(second.frames("subscribe").length, 0);
});

test("resume: a subscription made before connecting goes in the first hello and resolves from its outcome", async () => {
  const h = harness();
  const subscribed = h.client.subscribe(CONV, { afterSeq: 7 });
  void h.client.connect();
  await settle();
  const ws = h.socket();
  ws.accept();
  assert.deepEqual(ws.last("hello"), {
    op: "hello",
    ref: ws.last("hello").ref,
    token: "tok-1",
    resume: { [CONV]: 7 },
  });
  ws.reply("hello", { ...HELLO, resume: { [CONV]: { ok: true, last_seq: 9 } } });
  assert.deepEqual(await subscribed, { conversation_id: CONV, last_seq: 9 });
  ws.push(messageFrame(8));
  ws.push(messageFrame(9));
  await settle();
  assert.deepEqual(h.seqs(), [8, 9]);
});

test("resume: a conversation the gateway no longer gives is dropped with an error event", async () => {
  const h = harness();
  void h.client.connect();
  const first = await h.open();
  const subscribed = h.client.subscribe(CONV);
  first.reply("subscribe", { conversation_id: CONV, last_seq: 0 });
  await subscribed;
  first.drop(1001);
  h.clock.advance(1_000);
  await h.open({
    [CONV]: { ok: false, error: { code: "not_found", message: "conversation not found" } },
  });

  assert.deepEqual(h.errors(), ["not_found"]);
  assert.equal(h.client.lastSeq(CONV), undefined);
});

test("resume: a refused subscribe rejects its promise with the gateway's code", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  const subscribed = h.client.subscribe(CONV);
  ws.replyError("subscribe", "not_found", "conversation not found");
  await assert.rejects(subscribed, { name: "ChatgateError", code: "not_found" });
  assert.equal(h.client.lastSeq(CONV), undefined);
});

test("resume: more than 100 conversations resume 100 in hello and subscribe the rest after it", async () => {
  const h = harness();
  const ids = Array.from({ length: 101 }, (_, i) => `c-${i}`);
  for (const id of ids) void h.client.subscribe(id, { afterSeq: 2 });
  void h.client.connect();
  const ws = await h.open();
  assert.equal(Object.keys(ws.last("hello").resume as object).length, 100);
  assert.deepEqual(
    ws.frames("subscribe").map((f) => [f.conversation_id, f.after_seq]),
    [["c-100", 2]],
  );
});

test("resume: subscribing again with another afterSeq starts the conversation over from there", async () => {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  void h.client.subscribe(CONV);
  ws.reply("subscribe", { conversation_id: CONV, last_seq: 3 });
  ws.push(messageFrame(1));
  const again = h.client.subscribe(CONV, { afterSeq: 0 });
  assert.equal(ws.last("subscribe").after_seq, 0);
  ws.reply("subscribe", { conversation_id: CONV, last_seq: 3 });
  ws.push([messageFrame(1), messageFrame(2)]);
  await again;
  await settle();
  assert.deepEqual(h.seqs(), [1, 1, 2]);
});
