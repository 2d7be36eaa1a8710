import { Duration } from 'aws-cdk-lib';

/** How Lambda retries a function's failed asynchronous invocations, and how long an event may wait. */
export interface AsyncInvokeSettings {
  readonly retryAttempts: number;
  readonly maxEventAge: Duration;
}

/**
 * The asynchronous invocation settings of the event-driven functions (docs/guide/control-plane.md,
 * "When a function fails"). Lambda retries a failed invocation 1 and 2 minutes later; an event that still
 * fails, or that waited longer than `maxEventAge` (throttling), goes to the dead-letter queue.
 */
export const ASYNC_INVOKE = {
  /**
   * A launch action lasts the fleet's launch timeout (15 minutes by default): two retries fit in it, and
   * an event older than an hour finds no action left to complete.
   */
  registration: { retryAttempts: 2, maxEventAge: Duration.hours(1) },
  /** A terminate action is held while its runner is busy; the sweep catches what the retries miss. */
  deregistration: { retryAttempts: 2, maxEventAge: Duration.hours(1) },
  /** The minute tick: the next tick supersedes a retry, so none is made and an event is dropped after a minute. */
  idleMetric: { retryAttempts: 0, maxEventAge: Duration.minutes(1) },
} as const satisfies Record<string, AsyncInvokeSettings>;
