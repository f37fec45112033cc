import assert from "node:assert/strict";
import { test } from "node:test";
import { isField, shortcutOf } from "../shortcuts.js";

const key = (
  k: string,
  mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {},
) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...mods,
});

test("j, k, r, e and ? are shortcuts outside text fields", () => {
  assert.equal(shortcutOf(key("j"), false), "next");
  assert.equal(shortcutOf(key("k"), false), "previous");
  assert.equal(shortcutOf(key("r"), false), "reply");
  assert.equal(shortcutOf(key("e"), false), "resolve");
  assert.equal(shortcutOf(key("?"), false), "help");
  assert.equal(shortcutOf(key("x"), false), null);
});

test("typing in a field, or with a modifier, is never a shortcut; Escape always is", () => {
  assert.equal(shortcutOf(key("j"), true), null);
  assert.equal(shortcutOf(key("r", { ctrlKey: true }), false), null);
  assert.equal(shortcutOf(key("e", { metaKey: true }), false), null);
  assert.equal(shortcutOf(key("Escape"), true), "escape");
  assert.ok(isField({ tagName: "textarea" }));
  assert.ok(isField({ tagName: "DIV", isContentEditable: true }));
  assert.ok(!isField({ tagName: "BUTTON" }));
  assert.ok(!isField(null));
});
