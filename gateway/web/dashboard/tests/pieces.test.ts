import assert from "node:assert/strict";
import { test } from "node:test";
import type { Message } from "../../sdk/index.js";
import { cookieValue } from "../api.js";
import { insert } from "../live.js";

function message(seq: number, id = `m${seq}`): Message {
  return {
    id,
    conversation_id: "c",
    seq,
    role: "visitor",
    sender_id: null,
    content: "",
    attachments: [],
    metadata: {},
    client_message_id: null,
    created_at: "2026-12-06T10:00:00.000Z",
  };
}

test("a thread holds each message once, in seq order, however they arrive", () => {
  const thread: Message[] = [];
  for (const seq of [4, 1, 7, 4, 2, 7]) insert(thread, message(seq));
  assert.deepEqual(
    thread.map((m) => m.seq),
    [1, 2, 4, 7],
  );
});

test("the CSRF token is read from its cookie among others", () => {
  const cookies = "theme=dark; chatgate_csrf=abc%3D%3D; other=1";
  assert.equal(cookieValue(cookies, "chatgate_csrf"), "abc==");
  assert.equal(cookieValue(cookies, "chatgate_session"), null);
  assert.equal(cookieValue("", "chatgate_csrf"), null);
});
