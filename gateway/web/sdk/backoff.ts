/** Reconnect delays: exponential, capped, with jitter so that clients dropped together do not
 * all come back in the same instant. */

export interface BackoffOptions {
  /** The first delay, before jitter (ms). Default 500. */
  initialMs?: number;
  /** The cap (ms). Default 30000. */
  maxMs?: number;
  /** Each attempt multiplies the delay by this. Default 2. */
  factor?: number;
  /** The share of each delay that is random, 0 to 1: a delay `d` becomes one in
   * `[d * (1 - jitter), d]`. Default 0.5. */
  jitter?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  }

  /** How many delays were taken since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay (ms); each call grows it until the cap. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt += 1;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** Back to the first delay (after a successful `hello`). */
  reset(): void {
    this.attempt = 0;
  }
}
