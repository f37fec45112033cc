// Typing and read: volatile, sent only while open; typing is throttled, reads wait for the socket.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CONV, harness, settle } from "./fakes.js";

test("typing: repeated calls send only changes, and a still-typing refresh per typingRefreshMs", async () => {
  const h = harness({ typingRefreshMs: 3_000 });
  h.client.typing(CONV, true); // not open: nothing
  void h.client.connect();
  const ws = await h.open();
  h.client.typing(CONV, false); // was not typing: nothing
  h.client.typing(CONV, true);
  h.client.typing(CONV, true);
  h.clock.advance(2_000);
  h.client.typing(CONV, true);
  h.clock.advance(1_000);
  h.client.typing(CONV, true);
  h.client.typing(CONV, false);
  h.client.typing(CONV, false);
  assert.deepEqual(
    ws.frames("typing").map((f) => [f.conversation_id, f.on]),
    [
      [CONV, true],
      [CONV, true],
      [CONV, false],
    ],
  );
});

test("read: sent at once when open; when not, the highest seq is sent after the next hello", async () => {
  const h = harness();
  await h.client.markRead(CONV, 3);
  await h.client.markRead(CONV, 5);
  await h.client.markRead(CONV, 4);
  void h.client.connect();
  const ws = await h.open();
  assert.deepEqual(
    ws.frames("read").map((f) => [f.conversation_id, f.seq]),
    [[CONV, 5]],
  );
  ws.reply("read", { conversation_id: CONV, seq: 5 });
  const read = h.client.markRead(CONV, 6);
  ws.reply("read", { conversation_id: CONV, seq: 6 });
  await read;
  assert.equal(ws.frames("read").length, 2);
});

test("read: a read cut off by a drop is sent again after the reconnect", async () => {
  const h = harness();
  void h.client.connect();
  const first = await h.open();
  const read = h.client.markRead(CONV, 2);
  first.drop(1006);
  await read;
  h.clock.advance(500);
  const second = await h.open();
  assert.deepEqual(
    second.frames("read").map((f) => f.seq),
    [2],
  );
});

test("request: conversation.update goes out as an op and resolves with the conversation", async () => {
  const h = harness();
  await assert.rejects(h.client.updateConversation(CONV, { status: "agent_requested" }), {
    code: "disconnected",
  });
  void h.client.connect();
  const ws = await h.open();
  const updated = h.client.updateConversation(CONV, { status: "agent_requested" });
  assert.deepEqual(ws.last("conversation.update"), {
    op: "conversation.update",
    ref: ws.last("conversation.update").ref,
    conversation_id: CONV,
    status: "agent_requested",
  });
  ws.reply("conversation.update", { id: CONV, status: "agent_requested" });
  assert.equal((await updated).status, "agent_requested");
  await settle();
});

test("inbox: subscribed after every hello; its events pass through without seq tracking", async () => {
  const h = harness();
  void h.client.connect();
  const first = await h.open();
  const inbox = h.client.subscribeInbox();
  first.reply("subscribe", { inbox: true });
  await inbox;
  first.push({
    op: "event",
    event: "conversation.created",
    conversation_id: "c-2",
    seq: 0,
    data: { conversation: { id: "c-2" } },
  });
  first.push({
    op: "event",
    event: "conversation.updated",
    conversation_id: "c-2",
    seq: 4,
    data: { conversation: { id: "c-2" }, changes: { status: ["open", "resolved"] } },
  });
  assert.deepEqual(
    h.seen.filter((e) => e.name.startsWith("conversation.")).map((e) => e.name),
    ["conversation.created", "conversation.updated"],
  );
  first.drop(1001);
  h.clock.advance(500);
  const second = await h.open();
  assert.deepEqual(
    second.frames("subscribe").map((f) => f.inbox),
    [true],
  );
});
