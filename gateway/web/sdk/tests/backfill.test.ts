// Gap detection and REST backfill: a seq that skips ahead on a live socket holds what follows
// until the missing events are read over REST; every event is emitted once, in seq order.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONV,
  conversation,
  harness,
  message,
  messageFrame,
  settle,
  updatedFrame,
} from "./fakes.js";

async function following(afterSeq = 0) {
  const h = harness();
  void h.client.connect();
  const ws = await h.open();
  const subscribed = h.client.subscribe(CONV, { afterSeq });
  ws.reply("subscribe", { conversation_id: CONV, last_seq: afterSeq });
  await subscribed;
  return { ...h, ws };
}

test("backfill: a gap of messages is read from GET .../messages?after_seq= and emitted in order, once", async () => {
  const h = await following();
  h.http.on("GET", /\/v1\/conversations\/[^/]+\/messages$/, () => ({
    status: 200,
    body: { data: [message(2), message(3), message(4)], has_more: false, next_after_seq: 4 },
  }));
  h.ws.push(messageFrame(1));
  h.ws.push(messageFrame(4));
  assert.deepEqual(h.seqs(), [1], "4 waits for 2 and 3");
  await settle();

  assert.deepEqual(h.seqs(), [1, 2, 3, 4]);
  const [call] = h.http.calls;
  assert.equal(call?.path, `/v1/conversations/${CONV}/messages`);
  assert.equal(call?.query.get("after_seq"), "1");
  assert.equal(call?.headers.Authorization, "Bearer tok-1");
  const gaps = h.seen.filter((e) => e.name === "gap").map((e) => e.value);
  assert.deepEqual(gaps, [{ conversation_id: CONV, after_seq: 1, before_seq: 4 }]);
  // The missing events arriving late change nothing.
  h.ws.push([messageFrame(2), messageFrame(3), messageFrame(5)]);
  await settle();
  assert.deepEqual(h.seqs(), [1, 2, 3, 4, 5]);
  const emitted = h.seen
    .filter((e) => e.name === "new_message")
    .map((e) => (e.value as { data: { content: string } }).data.content);
  assert.deepEqual(emitted, ["message 1", "message 2", "message 3", "message 4", "message 5"]);
});

test("backfill: seqs no message took were conversation changes: the conversation is read and one conversation.updated fills them", async () => {
  const h = await following();
  h.ws.push(
    updatedFrame(1, { status: ["bot_active", "agent_requested"] }, { status: "agent_requested" }),
  );
  // Missed: 2 (takeover: status, handler, epoch), 3 (the system message).
  h.http.on("GET", /\/messages$/, () => ({
    status: 200,
    body: {
      data: [message(3, { role: "system" }), message(4, { role: "agent" })],
      has_more: false,
      next_after_seq: 4,
    },
  }));
  h.http.on("GET", new RegExp(`/v1/conversations/${CONV}$`), () => ({
    status: 200,
    body: conversation({
      status: "open",
      handler: "agent",
      epoch: 1,
      last_seq: 4,
      updated_at: "2026-11-22T05:00:00.000Z",
    }),
  }));
  h.ws.push(messageFrame(4, { role: "agent" }));
  await settle();

  assert.deepEqual(h.seqs(), [1, 2, 3, 4]);
  const updates = h.seen
    .filter((e) => e.name === "conversation.updated")
    .map(
      (e) =>
        e.value as { seq: number; data: { changes: object; conversation: { status: string } } },
    );
  assert.equal(updates[1]?.seq, 2);
  assert.deepEqual(updates[1]?.data.changes, {
    status: ["agent_requested", "open"],
    handler: ["bot", "agent"],
    epoch: [0, 1],
  });
  assert.equal(updates[1]?.data.conversation.status, "open");
});

test("backfill: a hole whose conversation did not change emits nothing for it", async () => {
  const h = await following();
  h.ws.push(updatedFrame(1, { assignee_id: [null, "a1"] }, { assignee_id: "a1" }));
  h.http.on("GET", /\/messages$/, () => ({
    status: 200,
    body: { data: [], has_more: false, next_after_seq: 1 },
  }));
  h.http.on("GET", new RegExp(`/v1/conversations/${CONV}$`), () => ({
    status: 200,
    body: conversation({ assignee_id: "a1", last_seq: 3 }),
  }));
  h.ws.push(messageFrame(3));
  await settle();
  assert.deepEqual(h.seqs(), [1, 3]);
  assert.equal(h.client.lastSeq(CONV), 3);
});

test("backfill: pages are followed while has_more, and stop at the gap", async () => {
  const h = await following();
  h.http.on("GET", /\/messages$/, (call) => {
    const after = Number(call.query.get("after_seq"));
    const data = [after + 1, after + 2].map((seq) => message(seq));
    return { status: 200, body: { data, has_more: true, next_after_seq: after + 2 } };
  });
  h.ws.push(messageFrame(6));
  await settle();
  assert.deepEqual(h.seqs(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(
    h.http.calls.map((c) => c.query.get("after_seq")),
    ["0", "2", "4"],
  );
  assert.equal(h.http.calls[0]?.query.get("limit"), "200");
});

test("backfill: a failed backfill is reported and tried again after a delay", async () => {
  const h = await following();
  h.http.on("GET", /\/messages$/, () => ({
    status: 503,
    body: { error: { code: "unavailable", message: "storage down" } },
  }));
  h.ws.push(messageFrame(2));
  await settle();
  assert.deepEqual(h.errors(), ["unavailable"]);
  assert.deepEqual(h.seqs(), []);

  h.http.on("GET", /\/messages$/, () => ({
    status: 200,
    body: { data: [message(1)], has_more: false, next_after_seq: 1 },
  }));
  h.clock.advance(1_000);
  await settle();
  assert.deepEqual(h.seqs(), [1, 2]);
  assert.equal(h.http.calls.length, 2);
});

test("backfill: a resume that fills the gap first makes the backfill's answer a no-op", async () => {
  const h = await following();
  let answer: (() => void) | undefined;
  h.http.on(
    "GET",
    /\/messages$/,
    () =>
      new Promise((resolve) => {
        answer = () =>
          resolve({
            status: 200,
            body: { data: [message(1)], has_more: false, next_after_seq: 1 },
          });
      }),
  );
  h.ws.push(messageFrame(2));
  // The socket drops before the REST answer is read; the resume replays 1 and 2.
  h.ws.drop(1006);
  h.clock.advance(1_000);
  await h.open({ [CONV]: { ok: true, last_seq: 2 } });
  h.socket().push([messageFrame(1), messageFrame(2)]);
  await settle();
  assert.deepEqual(h.seqs(), [1, 2]);
  assert.ok(answer, "the backfill was asked for");
  answer();
  await settle();
  assert.deepEqual(h.seqs(), [1, 2]);
});

test("backfill: the reply to a send is emitted at once when it is the next seq, and its event is not emitted again", async () => {
  const h = await following(4);
  const sent = h.client.send(CONV, "hi", { clientMessageId: "c-1" });
  h.ws.reply("message.send", message(5, { content: "hi", client_message_id: "c-1" }));
  await sent;
  assert.deepEqual(h.seqs(), [5]);
  h.ws.push(messageFrame(5, { content: "hi", client_message_id: "c-1" }));
  await settle();
  assert.deepEqual(h.seqs(), [5]);
  assert.equal(h.http.calls.length, 0, "a reply is never taken for a gap");
});

test("backfill: a reply that skips ahead waits for its event instead of opening a gap", async () => {
  const h = await following(4);
  const sent = h.client.send(CONV, "hi");
  h.ws.reply("message.send", message(6, { content: "hi" }));
  await sent;
  await settle();
  assert.deepEqual(h.seqs(), []);
  assert.equal(h.http.calls.length, 0);
  h.ws.push([
    updatedFrame(5, { status: ["bot_active", "agent_requested"] }, { status: "agent_requested" }),
    messageFrame(6),
  ]);
  await settle();
  assert.deepEqual(h.seqs(), [5, 6]);
});
