// The REST client: paths, credentials, the error envelope, token refresh on 401, files.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatgateError } from "../errors.js";
import { openWidgetSession, RestClient } from "../rest.js";
import { CONV, conversation, FakeFetch, harness } from "./fakes.js";

test("rest: errors carry the gateway's code, message, details, HTTP status and request id", async () => {
  const http = new FakeFetch();
  http.on("POST", /\/messages$/, () => ({
    status: 422,
    headers: { "X-Request-Id": "trace-42" },
    body: {
      error: {
        code: "validation_error",
        message: "Expected `str`",
        details: { path: "$.content" },
      },
      request_id: "trace-42",
    },
  }));
  const rest = new RestClient("http://gw.test/", http.fetch);
  await assert.rejects(rest.sendMessage(CONV, { content: "" }), (error: unknown) => {
    assert.ok(error instanceof ChatgateError);
    assert.equal(error.code, "validation_error");
    assert.equal(error.message, "Expected `str`");
    assert.deepEqual(error.details, { path: "$.content" });
    assert.equal(error.status, 422);
    assert.equal(error.requestId, "trace-42");
    return true;
  });
  assert.equal(http.calls[0]?.url, `http://gw.test/v1/conversations/${CONV}/messages`);
  assert.deepEqual(http.calls[0]?.body, { content: "" });
  assert.equal(http.calls[0]?.headers["Content-Type"], "application/json");
});

test("rest: an answer that is not the gateway's envelope still gives a code; no answer is network", async () => {
  const http = new FakeFetch();
  http.on("GET", /./, () => ({ status: 502, body: undefined }));
  const rest = new RestClient("http://gw.test", http.fetch);
  await assert.rejects(rest.getConversation(CONV), { code: "unavailable", status: 502 });
  const offline = new RestClient("http://gw.test", () =>
    Promise.reject(new TypeError("Failed to fetch")),
  );
  await assert.rejects(offline.getConversation(CONV), { code: "network" });
});

test("rest: a 401 asks the client's token provider for a new token and retries once", async () => {
  const asked: boolean[] = [];
  const h = harness({ token: ({ refresh }) => (asked.push(refresh), `tok-${asked.length}`) });
  h.http.on("GET", /./, (call) =>
    call.headers.Authorization === "Bearer tok-2"
      ? { status: 200, body: conversation() }
      : { status: 401, body: { error: { code: "unauthorized", message: "expired" } } },
  );
  const got = await h.client.rest.getConversation(CONV);
  assert.equal(got.id, CONV);
  assert.deepEqual(asked, [false, true]);
  assert.deepEqual(
    h.http.calls.map((c) => c.headers.Authorization),
    ["Bearer tok-1", "Bearer tok-2"],
  );
});

test("rest: history pages ask for after_seq and limit", async () => {
  const http = new FakeFetch();
  http.on("GET", /\/messages$/, () => ({
    status: 200,
    body: { data: [], has_more: false, next_after_seq: 7 },
  }));
  const rest = new RestClient("http://gw.test/chat", http.fetch);
  await rest.listMessages(CONV, { afterSeq: 7, limit: 50 });
  assert.equal(
    http.calls[0]?.url,
    `http://gw.test/chat/v1/conversations/${CONV}/messages?after_seq=7&limit=50`,
  );
});

test("rest: fetchFile asks this gateway for /v1/files/{sha256}, whatever host the stored URL names", async () => {
  const http = new FakeFetch();
  http.on("GET", /^\/v1\/files\//, () => ({ status: 200, body: "bytes" }));
  const rest = new RestClient("http://gw.test", http.fetch, {
    token: async () => "tok",
    refresh: async () => null,
  });
  const sha = "a".repeat(64);
  await rest.fetchFile(`https://evil.example/v1/files/${sha}`);
  await rest.fetchFile(`/v1/files/${sha}`);
  assert.deepEqual(
    http.calls.map((c) => c.url),
    [`http://gw.test/v1/files/${sha}`, `http://gw.test/v1/files/${sha}`],
  );
  assert.equal(http.calls[0]?.headers.Authorization, "Bearer tok");
  await assert.rejects(rest.fetchFile("https://example.com/cat.png"), { code: "validation_error" });
});

test("rest: openWidgetSession posts the visitor's fields, and renews with the token it is given", async () => {
  const http = new FakeFetch();
  http.on("POST", /\/sessions$/, () => ({
    status: 201,
    body: { token: "vt", expires_at: "x", widget_id: "w1", contact: {} },
  }));
  const session = await openWidgetSession(
    { url: "http://gw.test", widgetId: "w1", fetch: http.fetch },
    { name: "Ann" },
  );
  assert.equal(session.token, "vt");
  await openWidgetSession({
    url: "http://gw.test",
    widgetId: "w1",
    fetch: http.fetch,
    token: "vt",
  });
  assert.equal(http.calls[0]?.path, "/v1/widgets/w1/sessions");
  assert.deepEqual(http.calls[0]?.body, { name: "Ann" });
  assert.equal(http.calls[0]?.headers.Authorization, undefined);
  assert.equal(http.calls[1]?.headers.Authorization, "Bearer vt");
});
