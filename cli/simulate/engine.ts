/**
 * A discrete-event clock: actions scheduled at simulated seconds, run in time order (ties in the order
 * they were scheduled). An action may be async: the clock waits for it before the next one, so the real
 * handlers run to completion at the instant they were invoked. Nothing here reads the wall clock.
 */
export class SimClock {
  private readonly queue: Array<{ t: number; seq: number; run: () => unknown }> = [];
  private seq = 0;
  private current = 0;
  /** Called with the new time before the clock moves forward (to integrate what held until then). */
  onAdvance?: (from: number, to: number) => void;

  /** Simulated seconds since the start. */
  get now(): number {
    return this.current;
  }

  /** Runs `run` at simulated second `t` (never in the past). */
  at(t: number, run: () => unknown): void {
    const item = { t: Math.max(t, this.current), seq: this.seq++, run };
    // Binary insertion: the queue stays sorted by (t, seq).
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const q = this.queue[mid];
      if (q.t < item.t || (q.t === item.t && q.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }

  after(seconds: number, run: () => unknown): void {
    this.at(this.current + seconds, run);
  }

  /** Runs `run` every `interval` seconds from `first` until the clock stops. */
  every(interval: number, first: number, run: () => unknown): void {
    const tick = async () => {
      await run();
      this.after(interval, tick);
    };
    this.at(first, tick);
  }

  /** Runs every action due up to `until` (inclusive). */
  async runUntil(until: number): Promise<void> {
    while (this.queue.length > 0 && this.queue[0].t <= until) {
      const next = this.queue.shift()!;
      if (next.t > this.current) {
        this.onAdvance?.(this.current, next.t);
      }
      this.current = next.t;
      await next.run();
    }
    if (until > this.current) {
      this.onAdvance?.(this.current, until);
    }
    this.current = Math.max(this.current, until);
  }
}

/* eslint-disable no-bitwise -- mulberry32 is 32-bit integer arithmetic */
/** A seeded pseudo-random source (mulberry32): the same seed gives the same run. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /* eslint-enable no-bitwise */
  /** Uniform in [lo, hi]. */
  between(range: Range): number {
    return range.min + (range.max - range.min) * this.next();
  }
  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A closed range of seconds. */
export interface Range {
  readonly min: number;
  readonly max: number;
}
