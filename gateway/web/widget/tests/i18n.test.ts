import assert from "node:assert/strict";
import { test } from "node:test";
import { strings } from "../i18n.js";

test("i18n_picks_the_language_table", () => {
  /** French gets the French words; an unknown language gets English. */
  assert.equal(strings("fr").open, "Ouvrir la discussion");
  assert.equal(strings("fr").unread(3), "3 messages non lus");
  assert.equal(strings("de").open, "Open chat");
  assert.equal(strings(undefined).unread(1), "1 unread message");
});

test("i18n_config_texts_override_defaults", () => {
  /** The title, greeting and launcher text an org wrote replace the defaults; null keeps them. */
  const s = strings("fr", { title: "Aide", greeting: null });
  assert.equal(s.title, "Aide");
  assert.equal(s.greeting, "Bonjour ! Comment pouvons-nous vous aider ?");
  assert.equal(s.launcher, "Discuter");
});
