import assert from "node:assert/strict";
import { test } from "node:test";
import { SessionStore, type StorageLike } from "../storage.js";

function memory(): StorageLike & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

test("storage_keeps_the_session_under_the_widget_key", () => {
  /** A saved session is read back from `chatgate:{widgetId}`, and updated field by field. */
  const storage = memory();
  const store = new SessionStore("w1", storage);
  assert.equal(store.load(), null);
  store.save({ token: "t", conversation_id: "c", read_seq: 0 });
  store.update({ read_seq: 4 });
  assert.deepEqual(JSON.parse(storage.map.get("chatgate:w1") ?? ""), {
    token: "t",
    conversation_id: "c",
    read_seq: 4,
  });
  store.clear();
  assert.equal(store.load(), null);
});

test("storage_ignores_what_it_cannot_read", () => {
  /** A value that is not a stored session (bad JSON, no token) reads as none. */
  const storage = memory();
  const store = new SessionStore("w1", storage);
  storage.setItem("chatgate:w1", "{oops");
  assert.equal(store.load(), null);
  storage.setItem("chatgate:w1", JSON.stringify({ conversation_id: "c" }));
  assert.equal(store.load(), null);
  storage.setItem("chatgate:w1", JSON.stringify({ token: "t" }));
  assert.deepEqual(store.load(), { token: "t", conversation_id: null, read_seq: 0 });
});
