/**
 * Keyboard shortcuts: j / k next and previous conversation, r reply, e resolve, ? help,
 * Escape closes the help. Keys typed into a field are the field's, except Escape. Pure.
 */

export type Shortcut = "next" | "previous" | "reply" | "resolve" | "help" | "escape";

/** What a key event looks like to the shortcuts (a `KeyboardEvent` is one). */
export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** The shortcuts and what they do, for the help dialog. */
export const SHORTCUTS: readonly { keys: string; does: string }[] = [
  { keys: "j", does: "Next conversation" },
  { keys: "k", does: "Previous conversation" },
  { keys: "r", does: "Reply (focus the reply box)" },
  { keys: "e", does: "Resolve the open conversation" },
  { keys: "?", does: "Show this help" },
  { keys: "Esc", does: "Close the help, leave the reply box" },
];

const KEYS: Record<string, Shortcut> = {
  j: "next",
  k: "previous",
  r: "reply",
  e: "resolve",
  "?": "help",
};

/** The shortcut of a key press, or null; `inField`: focus is in a text field. */
export function shortcutOf(event: KeyLike, inField: boolean): Shortcut | null {
  if (event.key === "Escape") return "escape";
  if (inField || event.ctrlKey || event.metaKey || event.altKey) return null;
  return KEYS[event.key] ?? null;
}

/** Whether an element takes typed text (so its keys are not shortcuts). */
export function isField(
  element: { tagName?: string; isContentEditable?: boolean } | null,
): boolean {
  if (element === null) return false;
  const tag = (element.tagName ?? "").toUpperCase();
  return (
    tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable === true
  );
}
