import assert from "node:assert/strict";
import { test } from "node:test";
import { isPublic, parseRoute, pathOf, tokenOf } from "../router.js";

test("paths name pages, and a page's path reads back as the page", () => {
  assert.deepEqual(parseRoute("/app"), { page: "inbox" });
  assert.deepEqual(parseRoute("/app/"), { page: "inbox" });
  assert.deepEqual(parseRoute("/app/c/abc"), { page: "conversation", id: "abc" });
  assert.deepEqual(parseRoute("/app/admin"), { page: "admin", section: "widgets" });
  assert.deepEqual(parseRoute("/app/admin/webhooks/w1"), {
    page: "admin",
    section: "webhooks",
    id: "w1",
  });
  assert.deepEqual(parseRoute("/app/admin/nope"), { page: "not-found" });
  assert.deepEqual(parseRoute("/app/c"), { page: "not-found" });
  for (const path of ["/app", "/app/c/x%2Fy", "/app/admin/agents", "/app/admin/webhooks/w1"]) {
    assert.equal(pathOf(parseRoute(path)), path);
  }
});

test("invitation and reset tokens come from the fragment, which no server sees", () => {
  assert.deepEqual(parseRoute("/app/invite", "#token=abc.def"), {
    page: "invite",
    token: "abc.def",
  });
  assert.deepEqual(parseRoute("/app/reset", "#token=x"), { page: "reset", token: "x" });
  assert.equal(tokenOf(""), "");
  assert.ok(isPublic(parseRoute("/app/invite")));
  assert.ok(!isPublic(parseRoute("/app/admin/agents")));
});
