import assert from "node:assert/strict";
import { test } from "node:test";
import type { Conversation, Message } from "../../sdk/index.js";
import { Inbox, neighbour } from "../inbox.js";

function conversation(id: string, fields: Partial<Conversation> = {}): Conversation {
  return {
    id,
    org_id: "o",
    widget_id: null,
    contact_id: null,
    status: "agent_requested",
    handler: "bot",
    epoch: 0,
    assignee_id: null,
    created_at: "2026-12-06T10:00:00.000Z",
    updated_at: "2026-12-06T10:00:00.000Z",
    resolved_at: null,
    ended_at: null,
    live_agent_handoff_at: null,
    first_response_at: null,
    last_seq: 1,
    metadata: {},
    channel: "widget",
    ...fields,
  };
}

function message(conversationId: string, seq: number, fields: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    conversation_id: conversationId,
    seq,
    role: "visitor",
    sender_id: null,
    content: `hello ${seq}`,
    attachments: [],
    metadata: {},
    client_message_id: null,
    created_at: `2026-12-06T11:00:0${seq}.000Z`,
    ...fields,
  };
}

const ALL = { status: "all", assignee: "all" } as const;

test("newest activity first: a message moves its conversation to the top", () => {
  const inbox = new Inbox();
  inbox.upsert(conversation("a", { updated_at: "2026-12-06T10:00:00.000Z" }));
  inbox.upsert(conversation("b", { updated_at: "2026-12-06T10:05:00.000Z" }));
  assert.deepEqual(
    inbox.list(ALL, null).map((e) => e.conversation.id),
    ["b", "a"],
  );
  inbox.message(message("a", 2), false);
  assert.deepEqual(
    inbox.list(ALL, null).map((e) => e.conversation.id),
    ["a", "b"],
  );
  assert.equal(inbox.get("a")?.preview, "hello 2");
});

test("visitor messages past the read position are unread until read; the open one never", () => {
  const inbox = new Inbox(new Map([["a", 2]]));
  inbox.upsert(conversation("a"));
  assert.equal(inbox.message(message("a", 2), false), false); // already read
  assert.equal(inbox.message(message("a", 3), false), true);
  assert.equal(inbox.message(message("a", 4, { role: "agent" }), false), false);
  assert.equal(inbox.get("a")?.unread, 1);
  assert.equal(inbox.unreadTotal(ALL, null), 1);
  inbox.read("a", 4);
  assert.equal(inbox.get("a")?.unread, 0);
  assert.equal(inbox.message(message("a", 5), true), false);
  assert.equal(inbox.get("a")?.readSeq, 5);
});

test("filters: status (active by default) and assignee mine / unassigned / all", () => {
  const inbox = new Inbox();
  inbox.upsert(conversation("mine", { assignee_id: "me", status: "open" }));
  inbox.upsert(conversation("theirs", { assignee_id: "ana", status: "open" }));
  inbox.upsert(conversation("free"));
  inbox.upsert(conversation("done", { status: "resolved" }));
  const ids = (status: "active" | "all" | "resolved", assignee: "mine" | "unassigned" | "all") =>
    inbox
      .list({ status, assignee }, "me")
      .map((e) => e.conversation.id)
      .sort();
  assert.deepEqual(ids("active", "all"), ["free", "mine", "theirs"]);
  assert.deepEqual(ids("active", "mine"), ["mine"]);
  assert.deepEqual(ids("active", "unassigned"), ["free"]);
  assert.deepEqual(ids("resolved", "all"), ["done"]);
  assert.deepEqual(ids("all", "unassigned"), ["done", "free"]);
  assert.equal(inbox.counts("me", "all").active, 3);
});

test("an older copy of a conversation never replaces a newer one", () => {
  const inbox = new Inbox();
  inbox.upsert(conversation("a", { last_seq: 5, status: "resolved" }));
  inbox.upsert(conversation("a", { last_seq: 3, status: "open" }));
  assert.equal(inbox.get("a")?.conversation.status, "resolved");
});

test("next and previous stop at the ends; from nothing they start at an end", () => {
  const list = ["a", "b", "c"];
  assert.equal(neighbour(list, null, 1), "a");
  assert.equal(neighbour(list, null, -1), "c");
  assert.equal(neighbour(list, "a", 1), "b");
  assert.equal(neighbour(list, "c", 1), "c");
  assert.equal(neighbour(list, "a", -1), "a");
  assert.equal(neighbour([], "a", 1), null);
});
