/**
 * A simulated clock for the benchmark: `Date.now()` returns real time plus an offset, and `advanceTo`
 * moves the offset forward instead of sleeping.
 *
 * Replacing `Date.now` (and not only passing `now` to the handlers) is what makes an hour pass for
 * everything that keeps time with it: the App token cache of @octokit/auth-app (toad-cache, 59-minute TTL),
 * the App JWT's `iat`/`exp`, the write spacing of @octokit/plugin-throttling (Bottleneck) and the fake
 * server's token expiry and JWT checks. `new Date()` without arguments is not replaced: the handlers get
 * the simulated time through their `now` option.
 */
export class SimulatedClock {
  private readonly realNow: () => number = Date.now;
  private offset = 0;

  install(): void {
    Date.now = () => this.realNow() + this.offset;
  }

  uninstall(): void {
    Date.now = this.realNow;
  }

  /** Simulated milliseconds since the epoch. */
  now(): number {
    return this.realNow() + this.offset;
  }

  date(): Date {
    return new Date(this.now());
  }

  /** Moves the clock forward to `target` (ms since the epoch); never backwards. */
  advanceTo(target: number): void {
    const current = this.now();
    if (target > current) {
      this.offset += target - current;
    }
  }
}
