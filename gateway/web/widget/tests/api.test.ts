import assert from "node:assert/strict";
import { test } from "node:test";
import { Api } from "../api.js";

test("api_replays_calls_queued_before_load", async () => {
  /** Calls the snippet's stub queued in `Chatgate.q` run in order once the widget is up. */
  const calls: string[] = [];
  const global: { Chatgate?: unknown } = {
    Chatgate: { q: [["on", "open", () => calls.push("listener")], ["open"], ["nope"]] },
  };
  const api = new Api();
  api.install(global);
  assert.equal(global.Chatgate, api.handle);
  api.attach({
    open: () => {
      calls.push("open");
      api.emit("open");
    },
    close: () => calls.push("close"),
    identify: async () => void calls.push("identify"),
  });
  await api.handle.identify({ external_id: "u1", user_hash: "ab" });
  assert.deepEqual(calls, ["open", "listener", "identify"]);
});

test("api_identify_reports_the_widget_answer", async () => {
  /** `identify` rejects with the widget's error (a wrong hash), after the widget is up. */
  const api = new Api();
  const pending = api.handle.identify({ external_id: "u1", user_hash: "00" });
  api.attach({
    open: () => undefined,
    close: () => undefined,
    identify: () => Promise.reject(new Error("forbidden")),
  });
  await assert.rejects(pending, /forbidden/);
  assert.equal(typeof api.handle.version, "string");
});
