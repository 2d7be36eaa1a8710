import fc from 'fast-check';
import { CapacityFacts, decideCapacity, GroupFacts, groupFacts, idleRunnersOf, isBusyInstance, raiseTo } from '../../../lambda/core/capacity';
import type { GitHubRunner, GroupInstance } from '../../../lambda/ports';

const facts = (over: Partial<Omit<CapacityFacts, 'group'>> & { group?: Partial<GroupFacts> } = {}): CapacityFacts => ({
  idleTarget: 1,
  idle: 0,
  ...over,
  group: { desired: 1, min: 0, max: 10, busy: 0, ...over.group },
});

/** Arbitrary facts with min <= max and a desired capacity inside min..max, as AWS keeps it. */
const arbFacts = fc.record({
  min: fc.integer({ min: 0, max: 30 }),
  span: fc.integer({ min: 0, max: 100 }),
  desiredSeed: fc.nat(),
  busySeed: fc.nat(),
  idleTarget: fc.integer({ min: 0, max: 20 }),
  waiting: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
  idle: fc.integer({ min: 0, max: 50 }),
}).map((r): CapacityFacts => {
  const max = Math.max(1, r.min + r.span);
  const desired = r.min + (r.desiredSeed % (max - r.min + 1));
  return { idleTarget: r.idleTarget, waiting: r.waiting, idle: r.idle, group: { min: r.min, max, desired, busy: r.busySeed % (desired + 1) } };
});

describe('decideCapacity', () => {
  test.each([
    // [description, facts, need, gap, mode]
    ['a lone job on a warm fleet: the idle runner it took is replaced', facts({ waiting: 1 }), 2, 1, 'demand'],
    ['the job started: same need, nothing more', facts({ waiting: 0, group: { desired: 2, busy: 1 } }), 2, 0, 'demand'],
    ['the job ended and its instance left (desired -1): nothing to replace', facts({ waiting: 0, group: { desired: 1, busy: 0 } }), 1, 0, 'demand'],
    ['a burst of 50 on one idle runner, max 60', facts({ waiting: 50, group: { max: 60 } }), 51, 50, 'demand'],
    ['a burst above max is clamped', facts({ waiting: 500, group: { max: 60 } }), 60, 59, 'demand'],
    ['from zero: min 0, target 0', facts({ idleTarget: 0, waiting: 1, group: { desired: 0 } }), 1, 1, 'demand'],
    ['nothing to do at zero', facts({ idleTarget: 0, waiting: 0, group: { desired: 0 } }), 0, 0, 'demand'],
    ['excess after a burst', facts({ waiting: 0, group: { desired: 12, busy: 2 } }), 3, -9, 'demand'],
    ['min holds capacity up', facts({ idleTarget: 0, waiting: 0, group: { min: 2, desired: 2 } }), 2, 0, 'demand'],
    ['no webhook, every runner busy: doubling', facts({ idle: 0, group: { desired: 3, busy: 3 } }), 7, 4, 'saturated'],
    ['no webhook, a runner to spare: busy + target', facts({ idle: 1, group: { desired: 7, busy: 5 } }), 6, -1, 'steady'],
    ['no webhook, nothing running', facts({ idle: 1, group: { desired: 1, busy: 0 } }), 1, 0, 'steady'],
    ['no webhook, doubling bounded by max', facts({ idle: 0, group: { desired: 8, busy: 8, max: 10 } }), 10, 2, 'saturated'],
  ])('%s', (_name, input, need, gap, mode) => {
    const decision = decideCapacity(input as CapacityFacts);
    expect(decision).toMatchObject({ need, gap, mode, have: (input as CapacityFacts).group.desired });
  });

  test('never above max nor below min', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const { need } = decideCapacity(f);
      expect(need).toBeLessThanOrEqual(f.group.max);
      expect(need).toBeGreaterThanOrEqual(f.group.min);
    }));
  });

  test('one step of the gap makes the desired capacity exactly the need, of any size up to max', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const d = decideCapacity(f);
      expect(f.group.desired + d.gap).toBe(d.need);
    }));
  });

  test('a repeated evaluation on unchanged facts, after the step, asks for nothing', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const first = decideCapacity(f);
      // The step was applied: only the desired capacity changed (pending instances have not run a job yet).
      const again = decideCapacity({ ...f, group: { ...f.group, desired: first.need } });
      expect(again.gap).toBe(0);
      expect(again.need).toBe(first.need);
    }));
  });

  test('monotone in demand: more waiting jobs or more busy runners never lower the need', () => {
    fc.assert(fc.property(arbFacts, fc.integer({ min: 1, max: 50 }), (f, more) => {
      const base = decideCapacity(f).need;
      if (f.waiting !== undefined) {
        expect(decideCapacity({ ...f, waiting: f.waiting + more }).need).toBeGreaterThanOrEqual(base);
      }
      const busier = { ...f, group: { ...f.group, busy: f.group.busy + more, desired: Math.min(f.group.max, f.group.desired + more) } };
      expect(decideCapacity(busier).need).toBeGreaterThanOrEqual(base);
    }));
  });

  test('with a demand signal the idle count plays no part (only GitHub lags there)', () => {
    fc.assert(fc.property(arbFacts, fc.integer({ min: 0, max: 50 }), (f, idle) => {
      fc.pre(f.waiting !== undefined);
      expect(decideCapacity({ ...f, idle })).toEqual(decideCapacity(f));
    }));
  });

  test('without a demand signal, saturation at most doubles the busy runners (plus the target)', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const d = decideCapacity({ ...f, waiting: undefined });
      expect(d.unclamped).toBeLessThanOrEqual(2 * f.group.busy + f.idleTarget);
      expect(d.unclamped).toBeGreaterThanOrEqual(f.group.busy + f.idleTarget);
    }));
  });

  test('broken counts are never capacity', () => {
    const d = decideCapacity({ idleTarget: Number.NaN, waiting: -4, idle: -1, group: { desired: 2, min: -1, max: 5, busy: -3 } });
    expect(d).toMatchObject({ need: 0, gap: -2 });
  });
});

describe('raiseTo', () => {
  test('raises to the need only when the gap is positive: the direct path never lowers capacity', () => {
    fc.assert(fc.property(arbFacts, (f) => {
      const d = decideCapacity(f);
      const target = raiseTo(d);
      if (d.gap > 0) {
        expect(target).toBe(d.need);
        expect(target).toBeGreaterThan(f.group.desired);
      } else {
        expect(target).toBeUndefined();
      }
    }));
  });
});

describe('group facts', () => {
  const instance = (instanceId: string, lifecycleState: string, protectedFromScaleIn = false): GroupInstance =>
    ({ instanceId, lifecycleState, protectedFromScaleIn });

  test('busy = protected and not on the way out', () => {
    expect(isBusyInstance(instance('i-1', 'InService', true))).toBe(true);
    expect(isBusyInstance(instance('i-2', 'InService', false))).toBe(false);
    expect(isBusyInstance(instance('i-3', 'Terminating:Wait', true))).toBe(false);
    expect(isBusyInstance(instance('i-4', 'Warmed:Stopped', true))).toBe(false);
    expect(groupFacts({
      desired: 3,
      min: 0,
      max: 9,
      instances: [instance('i-1', 'InService', true), instance('i-2', 'Pending'), instance('i-3', 'Terminating:Wait', true)],
    })).toEqual({ desired: 3, min: 0, max: 9, busy: 1 });
  });

  test('idle runners: online, not busy, and not on a protected instance (GitHub\'s busy flag lags)', () => {
    const runner = (name: string, over: Partial<GitHubRunner> = {}): GitHubRunner =>
      ({ id: name.length, name, status: 'online', busy: false, labels: ['linux-fleet'], ...over });
    const fleet = { name: 'linux', fleetLabel: 'linux-fleet' };
    const runners = [
      runner('linux-i-0000000a'),
      runner('linux-i-0000000b'), // its job started: protected, flag not yet set
      runner('linux-i-0000000c', { busy: true }),
      runner('linux-i-0000000d', { status: 'offline' }),
      runner('other-i-0000000e', { labels: ['other'] }),
    ];
    expect(idleRunnersOf(runners, fleet, [instance('i-0000000b', 'InService', true)])).toBe(1);
    expect(idleRunnersOf(runners, fleet, [])).toBe(2);
  });
});
