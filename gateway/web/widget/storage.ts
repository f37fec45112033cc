/**
 * What the widget keeps in the visitor's browser: `localStorage["chatgate:" + widgetId]` holds
 * `{token, conversation_id, read_seq}`, so the conversation survives reloads and tabs share it.
 */

export interface Stored {
  token: string;
  conversation_id: string | null;
  /** The highest seq this visitor has seen (read), for the unread count across reloads. */
  read_seq: number;
}

/** The part of the Web Storage API used here (a fake in tests). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function storageKey(widgetId: string): string {
  return `chatgate:${widgetId}`;
}

export class SessionStore {
  readonly key: string;

  constructor(
    widgetId: string,
    private readonly storage: StorageLike | null,
  ) {
    this.key = storageKey(widgetId);
  }

  /** The stored session, or `null` when there is none or it cannot be read. */
  load(): Stored | null {
    return parseStored(this.read());
  }

  save(value: Stored): void {
    try {
      this.storage?.setItem(this.key, JSON.stringify(value));
    } catch {
      // Storage full or forbidden (private mode): the conversation lasts as long as the page.
    }
  }

  /** Updates the stored session's fields, when there is one. */
  update(fields: Partial<Stored>): void {
    const current = this.load();
    if (current) this.save({ ...current, ...fields });
  }

  clear(): void {
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // As in save().
    }
  }

  private read(): string | null {
    try {
      return this.storage?.getItem(this.key) ?? null;
    } catch {
      return null;
    }
  }
}

/** A stored value, checked: anything else (another version's, edited by hand) is `null`. */
export function parseStored(text: string | null): Stored | null {
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { token, conversation_id, read_seq } = value as Record<string, unknown>;
  if (typeof token !== "string" || token === "") return null;
  return {
    token,
    conversation_id: typeof conversation_id === "string" ? conversation_id : null,
    read_seq: typeof read_seq === "number" && read_seq >= 0 ? read_seq : 0,
  };
}
