/**
 * A conversation's event log as the client has it: the highest seq delivered in order
 * (`lastSeq`), and the events held back behind a gap. Every seq is delivered at most once and
 * in order; an event that skips ahead is held until what comes before it arrives (live, by a
 * resume, or by backfill).
 */

import type { AnyEventFrame } from "./types.js";

export interface Gap {
  /** The last seq delivered in order. */
  afterSeq: number;
  /** The first seq held back: the missing ones are `afterSeq + 1 .. beforeSeq - 1`. */
  beforeSeq: number;
}

export class SeqLog {
  /** Held back by seq; `null` marks a seq known to carry nothing to deliver. */
  private readonly held = new Map<number, AnyEventFrame | null>();

  constructor(public lastSeq: number) {}

  /** Takes one event with a seq; returns the events now deliverable, in seq order. */
  accept(frame: AnyEventFrame): AnyEventFrame[] {
    return this.fill([[frame.seq as number, frame]]);
  }

  /**
   * Takes entries by seq (an event, or `null` for a seq with nothing to deliver); keeps the
   * first one given for a seq; returns the events now deliverable, in seq order.
   */
  fill(entries: Iterable<readonly [number, AnyEventFrame | null]>): AnyEventFrame[] {
    for (const [seq, frame] of entries) {
      if (seq > this.lastSeq && !this.held.has(seq)) this.held.set(seq, frame);
    }
    const ready: AnyEventFrame[] = [];
    for (;;) {
      const next = this.lastSeq + 1;
      if (!this.held.has(next)) break;
      const frame = this.held.get(next) ?? null;
      this.held.delete(next);
      this.lastSeq = next;
      if (frame !== null) ready.push(frame);
    }
    return ready;
  }

  /** The first run of missing seqs, or `null` when nothing is held back. */
  get gap(): Gap | null {
    if (this.held.size === 0) return null;
    return { afterSeq: this.lastSeq, beforeSeq: Math.min(...this.held.keys()) };
  }

  /** Starts over from `lastSeq` (a new subscription point), forgetting what was held. */
  reset(lastSeq: number): void {
    this.lastSeq = lastSeq;
    this.held.clear();
  }
}
