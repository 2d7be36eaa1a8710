import fc from 'fast-check';
import { DEFAULT_REDELIVERY_POLICY, delivered, deliveriesToRedeliver } from '../../../lambda/core/redelivery';
import type { HookDelivery } from '../../../lambda/ports';

const NOW = new Date('2026-11-24T12:00:00Z');
const POLICY = { maxPerTick: 3, maxAgeSeconds: 3600, maxAttempts: 3 };

let nextId = 1;
function attempt(guid: string, statusCode: number, minutesAgo: number, overrides: Partial<HookDelivery> = {}): HookDelivery {
  return {
    id: nextId++,
    guid,
    statusCode,
    deliveredAt: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
    redelivery: false,
    event: 'workflow_job',
    action: 'queued',
    ...overrides,
  };
}

const ids = (list: HookDelivery[]) => list.map((d) => d.guid);

describe('deliveriesToRedeliver', () => {
  test.each([
    ['a failed delivery (500)', [attempt('a', 500, 5)], ['a']],
    ['a timed-out delivery (no answer, 0)', [attempt('a', 0, 5)], ['a']],
    ['a refused one (401)', [attempt('a', 401, 5)], ['a']],
    ['a delivered one (202)', [attempt('a', 202, 5)], []],
    ['a delivered one (200, a duplicate)', [attempt('a', 200, 5)], []],
    ['a failed one redelivered since', [attempt('a', 500, 5), attempt('a', 202, 4, { redelivery: true })], []],
    ['a failed one whose redelivery failed too', [attempt('a', 500, 5), attempt('a', 503, 4, { redelivery: true })], ['a']],
    ['a failed one at its third attempt', [attempt('a', 500, 5), attempt('a', 500, 4), attempt('a', 500, 3)], []],
    ['another event', [attempt('a', 500, 5, { event: 'push' })], []],
    ['older than the maximum age', [attempt('a', 500, 61)], []],
    ['a redelivery that is young, of a first attempt that is too old', [attempt('a', 500, 61), attempt('a', 500, 1, { redelivery: true })], []],
    // The listing's window has lost the original attempt (and maybe others): it is not counted again.
    ['only redeliveries in sight: the original attempt aged out of the listing', [attempt('a', 500, 50, { redelivery: true }), attempt('a', 500, 20, { redelivery: true })], []],
  ])('%s', (_name, deliveries, expected) => {
    expect(ids(deliveriesToRedeliver(deliveries, NOW, POLICY))).toEqual(expected);
  });

  test('the oldest first, at most maxPerTick, the newest attempt of each', () => {
    const deliveries = [attempt('d', 500, 1), attempt('c', 500, 2), attempt('b', 500, 3), attempt('a', 500, 4), attempt('a', 502, 2)];
    const due = deliveriesToRedeliver(deliveries, NOW, POLICY);
    expect(ids(due)).toEqual(['a', 'b', 'c']);
    expect(due[0]).toBe(deliveries[4]);
  });

  test('property: never a delivered guid, never more than maxPerTick, never another event, each guid at most once', () => {
    const arbitraryAttempt = fc.record({
      guid: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      statusCode: fc.constantFrom(0, 200, 202, 400, 401, 500, 502),
      minutesAgo: fc.integer({ min: 0, max: 200 }),
      event: fc.constantFrom('workflow_job', 'workflow_job', 'push'),
    });
    fc.assert(fc.property(fc.array(arbitraryAttempt, { maxLength: 30 }), fc.integer({ min: 0, max: 5 }), (raw, maxPerTick) => {
      const deliveries = raw.map((r) => attempt(r.guid, r.statusCode, r.minutesAgo, { event: r.event }));
      const due = deliveriesToRedeliver(deliveries, NOW, { ...DEFAULT_REDELIVERY_POLICY, maxPerTick });
      expect(due.length).toBeLessThanOrEqual(maxPerTick);
      expect(new Set(ids(due)).size).toBe(due.length);
      for (const d of due) {
        expect(d.event).toBe('workflow_job');
        expect(deliveries.some((o) => o.guid === d.guid && o.event === 'workflow_job' && delivered(o.statusCode))).toBe(false);
      }
    }));
  });
});
