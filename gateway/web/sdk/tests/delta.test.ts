// Streamed answers: message.delta events (volatile, no seq) build a draft; the stored message
// with the same id replaces it.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Draft } from "../drafts.js";
import { CONV, harness, message, messageFrame, settle, updatedFrame } from "./fakes.js";

const delta = (index: number, text: string, extra: object = {}) => ({
  op: "event",
  event: "message.delta",
  conversation_id: CONV,
  seq: null,
  data: { message_id: "m-3", index, text, ...extra },
});

async function streaming() {
  const h = harness({ draftTimeoutMs: 30_000 });
  void h.client.subscribe(CONV);
  void h.client.connect();
  const ws = await h.open({ [CONV]: { ok: true, last_seq: 0 } });
  ws.push([messageFrame(1), messageFrame(2)]);
  const drafts = () => h.seen.filter((e) => e.name === "draft").map((e) => e.value as Draft);
  return { ...h, ws, drafts };
}

test("delta: chunks are emitted as message.delta and build a draft in index order, repeats ignored", async () => {
  const h = await streaming();
  h.ws.push(delta(0, "Your order "));
  h.ws.push([delta(2, "tomorrow."), delta(1, "ships "), delta(1, "ships ")]);

  assert.equal(h.seen.filter((e) => e.name === "message.delta").length, 4);
  assert.deepEqual(
    h.drafts().map((d) => [d.text, d.done]),
    [
      ["Your order ", false],
      ["Your order ", false],
      ["Your order ships tomorrow.", false],
    ],
  );
  assert.deepEqual(
    h.client.drafts(CONV).map((d) => d.text),
    ["Your order ships tomorrow."],
  );
  assert.deepEqual(h.seqs(), [1, 2], "deltas take no seq");
});

test("delta: the stored message with the draft's id replaces it, and late chunks are ignored", async () => {
  const h = await streaming();
  h.ws.push([delta(0, "Your order "), delta(1, "ships")]);
  h.ws.push(messageFrame(3, { id: "m-3", role: "bot", content: "Your order ships tomorrow." }));
  h.ws.push(delta(2, " late"));

  const last = h.drafts().at(-1);
  assert.equal(last?.done, true);
  assert.equal(last?.message?.seq, 3);
  assert.equal(last?.text, "Your order ships tomorrow.");
  assert.deepEqual(h.client.drafts(CONV), []);
  assert.equal(h.drafts().length, 3);
  // The draft's end comes just before the message that replaces it.
  const names = h.seen.map((e) => e.name).filter((n) => n === "draft" || n === "new_message");
  assert.deepEqual(names.slice(-2), ["draft", "new_message"]);
});

test("delta: done ends a draft that will not be stored", async () => {
  const h = await streaming();
  h.ws.push([delta(0, "Let me"), delta(1, "", { done: true })]);
  assert.deepEqual(
    h.drafts().map((d) => [d.text, d.done, d.message]),
    [
      ["Let me", false, null],
      ["Let me", true, null],
    ],
  );
  assert.deepEqual(h.client.drafts(CONV), []);
});

test("delta: a takeover drops the bot's draft", async () => {
  const h = await streaming();
  h.ws.push(delta(0, "Let me"));
  h.ws.push(
    updatedFrame(
      3,
      { status: ["agent_requested", "open"], handler: ["bot", "agent"], epoch: [0, 1] },
      { status: "open", handler: "agent", epoch: 1 },
    ),
  );
  assert.deepEqual(
    h.drafts().map((d) => d.done),
    [false, true],
  );
  assert.deepEqual(h.client.drafts(CONV), []);
});

test("delta: a draft with no chunk for draftTimeoutMs is dropped", async () => {
  const h = await streaming();
  h.ws.push(delta(0, "Let me"));
  h.clock.advance(29_000);
  h.ws.push(delta(1, " check"));
  h.clock.advance(29_000);
  assert.deepEqual(
    h.client.drafts(CONV).map((d) => d.text),
    ["Let me check"],
  );
  h.clock.advance(1_000);
  assert.deepEqual(h.client.drafts(CONV), []);
  assert.deepEqual(h.drafts().at(-1), {
    conversation_id: CONV,
    message_id: "m-3",
    text: "Let me check",
    done: true,
    message: null,
  });
});

test("delta: a stored message backfilled over REST also replaces its draft", async () => {
  const h = await streaming();
  h.http.on("GET", /\/messages$/, () => ({
    status: 200,
    body: {
      data: [message(3, { id: "m-3", content: "Done." })],
      has_more: false,
      next_after_seq: 3,
    },
  }));
  h.ws.push(delta(0, "Do"));
  h.ws.push(messageFrame(4));
  await settle();
  assert.deepEqual(h.seqs(), [1, 2, 3, 4]);
  assert.deepEqual(
    h.drafts().map((d) => [d.text, d.done]),
    [
      ["Do", false],
      ["Done.", true],
    ],
  );
});
