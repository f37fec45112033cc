import assert from "node:assert/strict";
import { test } from "node:test";
import { type Contact, Contacts } from "../contacts.js";

function contact(id: string, name: string | null): Contact {
  return {
    id,
    external_id: null,
    name,
    email: null,
    metadata: {},
    created_at: "2026-12-06T10:00:00.000Z",
    widget_id: null,
  };
}

test("each contact is read once, however often the views ask", async () => {
  const reads: string[] = [];
  let changes = 0;
  const contacts = new Contacts(
    async (id) => {
      reads.push(id);
      if (id === "gone") throw new Error("not_found");
      return contact(id, id === "a" ? "Ada" : null);
    },
    () => changes++,
  );
  contacts.want(["a", "b", null, "a", "gone"]);
  contacts.want(["b", undefined, "a", "gone"]);
  await new Promise((resolve) => setImmediate(resolve));
  contacts.want(["a", "gone"]);
  assert.deepEqual(reads, ["a", "b", "gone"]);
  assert.equal(changes, 2);
  assert.equal(contacts.nameOf("a"), "Ada");
  assert.equal(contacts.nameOf("b"), null);
  assert.equal(contacts.nameOf("gone"), null);
  assert.equal(contacts.get("b")?.id, "b");
});
