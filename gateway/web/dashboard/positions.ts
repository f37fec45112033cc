/**
 * How far this agent has read each conversation, kept in `localStorage` (per agent) so unread
 * counts survive a reload. The gateway is told too (`read`), for the visitor's "seen".
 */

const MAX_KEPT = 500;

export class ReadPositions {
  private readonly key: string;
  private readonly positions: Map<string, number>;

  constructor(agentId: string) {
    this.key = `chatgate.dashboard.read.${agentId}`;
    this.positions = new Map(load(this.key));
  }

  /** The live map (the inbox reads and writes it). */
  all(): Map<string, number> {
    return this.positions;
  }

  set(id: string, seq: number): void {
    if ((this.positions.get(id) ?? 0) >= seq) return;
    this.positions.delete(id);
    this.positions.set(id, seq);
    while (this.positions.size > MAX_KEPT) {
      const oldest = this.positions.keys().next().value;
      if (oldest === undefined) break;
      this.positions.delete(oldest);
    }
    try {
      localStorage.setItem(this.key, JSON.stringify([...this.positions]));
    } catch {
      // Storage full or refused: the counts start over after a reload.
    }
  }
}

function load(key: string): [string, number][] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(key) ?? "[]");
    if (!Array.isArray(value)) return [];
    return value.filter(
      (item): item is [string, number] =>
        Array.isArray(item) && typeof item[0] === "string" && typeof item[1] === "number",
    );
  } catch {
    return [];
  }
}
