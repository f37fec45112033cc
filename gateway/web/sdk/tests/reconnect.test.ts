// Reconnecting: delays grow with jitter and reset after a successful hello; close codes decide
// between reconnecting (and resuming) and stopping with an error.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff } from "../backoff.js";
import { ChatgateError } from "../errors.js";
import { CONV, harness, messageFrame, settle } from "./fakes.js";

test("backoff: delays double up to the cap, each with its random share taken off, and reset", () => {
  const randoms = [0, 1, 0.5, 0, 0, 0, 0, 0.25];
  const backoff = new Backoff(
    { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 },
    () => randoms.shift() ?? 0,
  );
  const delays = Array.from({ length: 8 }, () => backoff.next());
  assert.deepEqual(delays, [100, 100, 300, 800, 1000, 1000, 1000, 875]);
  backoff.reset();
  assert.equal(backoff.next(), 100);
});

test("backoff: without jitter the delays are exact; with it they stay within [d/2, d]", () => {
  const exact = new Backoff({ initialMs: 500, jitter: 0 });
  assert.deepEqual([exact.next(), exact.next(), exact.next()], [500, 1000, 2000]);
  const jittered = new Backoff({ initialMs: 500 });
  for (let i = 0; i < 7; i++) {
    const full = Math.min(30_000, 500 * 2 ** i);
    const delay = jittered.next();
    assert.ok(delay >= full / 2 && delay <= full, `${delay} within [${full / 2}, ${full}]`);
  }
});

test("reconnect: failed attempts wait longer each time, and a successful hello resets the delay", async () => {
  const h = harness({ random: () => 0 });
  void h.client.connect();
  await settle();
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    h.socket().drop(1006); // never opened: the gateway is down
    delays.push(h.clock.waiting()[0] ?? -1);
    h.clock.advance(delays[i] ?? 0);
    await settle();
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000]);
  assert.equal(h.sockets.length, 5);

  await h.open();
  h.socket().drop(1006);
  assert.deepEqual(h.clock.waiting(), [500]);
  assert.equal(h.client.state, "reconnecting");
});

test("reconnect: connect() while waiting out a delay reconnects at once", async () => {
  const h = harness();
  void h.client.connect();
  await h.open();
  h.socket().drop(1006);
  const ready = h.client.connect();
  const ws = await h.open();
  assert.equal(h.sockets.length, 2);
  assert.equal((await ready).session_id, "s1");
  assert.equal(ws.url, "ws://gw.test/ws");
  assert.deepEqual(ws.protocols, ["chatgate.json"]);
});

test("close codes: 4008 (slow consumer) reconnects and resumes from the last seq", async () => {
  const h = harness();
  void h.client.subscribe(CONV);
  void h.client.connect();
  const first = await h.open({ [CONV]: { ok: true, last_seq: 0 } });
  first.push([messageFrame(1), messageFrame(2)]);
  first.drop(4008, "slow consumer: resume by seq");
  assert.equal(h.client.state, "reconnecting");
  h.clock.advance(500);
  await settle();
  h.socket().accept();
  assert.deepEqual(h.socket().last("hello").resume, { [CONV]: 2 });
  assert.deepEqual(h.errors(), []);
});

for (const code of [1000, 1001, 1006, 1009, 1011, 1012]) {
  test(`close codes: ${code} reconnects`, async () => {
    const h = harness();
    void h.client.connect();
    await h.open();
    h.socket().drop(code);
    h.clock.advance(500);
    await settle();
    assert.equal(h.sockets.length, 2);
    assert.equal(h.client.state, "connecting");
  });
}

for (const [code, name] of [
  [4003, "forbidden"],
  [4400, "bad_request"],
  [4001, "unauthorized"],
] as const) {
  test(`close codes: ${code} stops with an error ${name} and rejects what waits`, async () => {
    const h = harness();
    const ready = h.client.connect();
    const subscribed = h.client.subscribe(CONV);
    const sent = h.client.send(CONV, "hi");
    await settle();
    h.socket().accept();
    h.socket().drop(code, "go away");
    await assert.rejects(ready, { code: name, closeCode: code });
    await assert.rejects(subscribed, { code: name });
    await assert.rejects(sent, { code: name });
    assert.equal(h.client.state, "closed");
    assert.deepEqual(h.errors(), [name]);
    h.clock.advance(600_000);
    await settle();
    assert.equal(h.sockets.length, 1, "no reconnect");
  });
}

test("close codes: 4001 with a token provider asks it for a new token once and reconnects", async () => {
  const asked: boolean[] = [];
  const h = harness({ token: ({ refresh }) => (asked.push(refresh), `tok-${asked.length}`) });
  void h.client.connect();
  const first = await h.open();
  assert.equal(first.last("hello").token, "tok-1");
  first.drop(4001, "token expired");
  h.clock.advance(0);
  const second = await h.open();
  assert.equal(second.last("hello").token, "tok-2");
  assert.deepEqual(asked, [false, true]);
  assert.equal(h.client.state, "open");

  // Refused again right after a fresh token, twice in a row: stop.
  second.drop(4001);
  h.clock.advance(0);
  await settle();
  h.socket().accept();
  h.socket().drop(4001);
  assert.equal(h.client.state, "closed");
  assert.deepEqual(h.errors(), ["unauthorized"]);
});

test("close codes: a token provider that throws unauthorized stops; other failures are retried", async () => {
  let calls = 0;
  const h = harness({
    token: () => {
      calls += 1;
      if (calls === 1) throw new Error("network down");
      throw new ChatgateError("unauthorized", "API key revoked");
    },
  });
  const ready = h.client.connect();
  await settle();
  assert.equal(h.client.state, "reconnecting");
  h.clock.advance(500);
  await assert.rejects(ready, { code: "unauthorized" });
  assert.equal(h.client.state, "closed");
  assert.deepEqual(h.errors(), ["internal", "unauthorized"]);
});

test("close codes: connect() after a stop tries again and resumes what was followed", async () => {
  const h = harness();
  void h.client.subscribe(CONV);
  void h.client.connect().catch(() => undefined);
  const first = await h.open({ [CONV]: { ok: true, last_seq: 0 } });
  first.push(messageFrame(1));
  first.drop(4003);
  assert.equal(h.client.state, "closed");
  void h.client.connect();
  await settle();
  h.socket().accept();
  assert.deepEqual(h.socket().last("hello").resume, { [CONV]: 1 });
});

test("heartbeat: a ping goes out while open; no pong in time gives the socket up and reconnects", async () => {
  const h = harness({ heartbeatMs: 25_000, requestTimeoutMs: 10_000 });
  void h.client.connect();
  const ws = await h.open();
  h.clock.advance(25_000);
  ws.reply("ping", { pong: true });
  await settle();
  h.clock.advance(25_000);
  assert.equal(ws.frames("ping").length, 2);
  h.clock.advance(10_000);
  assert.equal(ws.closedByClient?.code, 4000);
  assert.equal(h.client.state, "reconnecting");
});

test("heartbeat: a socket that never opens is given up after the request timeout", async () => {
  const h = harness({ requestTimeoutMs: 10_000 });
  void h.client.connect();
  await settle();
  h.clock.advance(10_000);
  assert.equal(h.socket().closedByClient?.code, 4000);
  assert.equal(h.client.state, "reconnecting");
});
