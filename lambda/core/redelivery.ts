import type { HookDelivery } from '../ports';

/** Bounds of the recovery of failed deliveries on each minute tick. */
export interface RedeliveryPolicy {
  /** Redeliveries asked for per tick at most. */
  readonly maxPerTick: number;
  /** Deliveries older than this (their first attempt) are left alone, in seconds. */
  readonly maxAgeSeconds: number;
  /** Attempts (the first one included) after which a delivery is given up: one that always fails is not retried forever. */
  readonly maxAttempts: number;
}

/**
 * The defaults: 10 a tick is more than a healthy endpoint ever loses in a minute and bounds the cost of
 * an outage's backlog (it drains at 600 an hour); 3 hours covers an endpoint that was down for a while
 * and stays within a few pages of the listing (GitHub keeps deliveries for 3 days); 3 attempts let a
 * transient failure pass while a delivery refused for good (a bad signature after a rotation, a body
 * too large) costs two redeliveries, not one a minute.
 */
export const DEFAULT_REDELIVERY_POLICY: RedeliveryPolicy = { maxPerTick: 10, maxAgeSeconds: 3 * 3600, maxAttempts: 3 };

/** The event whose lost deliveries are recovered: the demand signal. */
export const REDELIVERED_EVENT = 'workflow_job';

/** Whether GitHub counts an answer as delivered. */
export function delivered(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/**
 * The failed `workflow_job` deliveries to redeliver now, from the App's recent deliveries (any order).
 *
 * Attempts of one delivery share its `guid` (the `X-GitHub-Delivery` value): a delivery is failed when
 * none of its attempts was answered 2xx. It is redelivered when its first attempt seen is younger than
 * `maxAgeSeconds` and it has had fewer than `maxAttempts` attempts; the oldest first, at most
 * `maxPerTick`. The attempt returned is the newest one (GitHub redelivers any attempt's payload).
 */
export function deliveriesToRedeliver(deliveries: HookDelivery[], now: Date, policy: RedeliveryPolicy): HookDelivery[] {
  const byGuid = new Map<string, HookDelivery[]>();
  for (const d of deliveries) {
    if (d.event !== REDELIVERED_EVENT) {
      continue;
    }
    const attempts = byGuid.get(d.guid) ?? [];
    attempts.push(d);
    byGuid.set(d.guid, attempts);
  }
  const due: Array<{ first: number; newest: HookDelivery }> = [];
  for (const attempts of byGuid.values()) {
    // Only attempts younger than the listing's window are seen: when the original attempt is not among
    // them (every one seen is a redelivery), the delivery is older than the window, and its earlier
    // attempts are out of sight: not redelivered again, or a delivery refused for good would be
    // redelivered each time one of its attempts ages out.
    if (attempts.some((a) => delivered(a.statusCode)) || attempts.length >= policy.maxAttempts || attempts.every((a) => a.redelivery)) {
      continue;
    }
    const times = attempts.map((a) => Date.parse(a.deliveredAt));
    const first = Math.min(...times);
    if (!Number.isFinite(first) || (now.getTime() - first) / 1000 > policy.maxAgeSeconds) {
      continue;
    }
    const newest = attempts[times.indexOf(Math.max(...times))];
    due.push({ first, newest });
  }
  return due
    .sort((a, b) => a.first - b.first)
    .slice(0, Math.max(0, policy.maxPerTick))
    .map((d) => d.newest);
}
