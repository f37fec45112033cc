/** Small helpers the views share: readable errors, times, status names, re-render on change. */

import { useEffect, useState } from "preact/hooks";
import { ChatgateError, type ConversationStatus } from "../../sdk/index.js";
import type { Live } from "../live.js";

/** What to tell the agent about a failure. */
export function problemText(problem: unknown): string {
  if (problem instanceof ChatgateError) {
    if (problem.code === "invalid_credentials") return "Wrong email or password.";
    if (problem.code === "sign_in_locked") {
      return "Too many wrong passwords: signing in is locked for a while. Try again later.";
    }
    if (problem.code === "invalid_link") {
      return "This link is not valid any more (used, expired or replaced). Ask an admin for a new one.";
    }
    if (problem.code === "weak_password") return problem.message;
    if (problem.code === "csrf_failed") return "Your session expired in this tab: reload the page.";
    if (problem.code === "forbidden") return "You may not do that.";
    if (problem.code === "network") return "The gateway cannot be reached. Check your connection.";
    return problem.message;
  }
  return problem instanceof Error ? problem.message : String(problem);
}

export const STATUS_NAMES: Record<ConversationStatus, string> = {
  bot_active: "With the bot",
  agent_requested: "Waiting",
  open: "Open",
  resolved: "Resolved",
  closed: "Closed",
  archived: "Archived",
};

/** A time as the list shows it: the hour today, else the date. */
export function shortTime(iso: string | number): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || date.getTime() === 0) return "";
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

/** Re-renders the component whenever the live state changes. */
export function useLive(live: Live): void {
  const [, setTick] = useState(0);
  useEffect(() => live.on(() => setTick((n) => n + 1)), [live]);
}

/** "Ana is typing", "Ana and Bo are viewing". */
export function who(names: string[], verb: string): string {
  if (names.length === 0) return "";
  const list =
    names.length === 1
      ? names[0]
      : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  return `${list} ${names.length === 1 ? "is" : "are"} ${verb}`;
}
