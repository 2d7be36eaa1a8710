import fc from 'fast-check';
import { decideCapacity } from '../../lambda/core/capacity';
import { changeFor, excessSteps, gapSteps, MAX_STEP_ADJUSTMENTS, StepPlan } from '../../src/scaling/step-intervals';

/** Intervals must cover the line without gaps or overlaps, in order; exactly one end is open. */
function assertContiguous(plan: StepPlan): void {
  const sorted = [...plan.intervals].sort((a, b) => (a.lowerBound ?? -Infinity) - (b.lowerBound ?? -Infinity));
  for (let i = 1; i < sorted.length; i++) {
    // == rather than toBe: the scale-in plan's first upper bound is -0, which CloudFormation reads as 0.
    expect(sorted[i].lowerBound! == sorted[i - 1].upperBound!).toBe(true);
  }
  const open = plan.intervals.filter((i) => i.lowerBound === undefined).length + plan.intervals.filter((i) => i.upperBound === undefined).length;
  expect(open).toBe(1);
}

/** The change Auto Scaling applies for a gap: none while the alarm is OK (on the threshold's other side). */
function outChange(plan: StepPlan, gap: number): number | undefined {
  return gap > plan.threshold ? changeFor(plan, gap) : undefined;
}

function inChange(plan: StepPlan, gap: number): number | undefined {
  return gap < plan.threshold ? changeFor(plan, gap) : undefined;
}

const maxCapacity = fc.integer({ min: 1, max: 500 });

describe('gapSteps (scale-out on the capacity gap)', () => {
  test.each([
    // max, gap, expected change
    [10, 1, 1],
    [10, 7, 7],
    [10, 10, 10],
    [10, 15, 10],
    [50, 20, 20],
    [50, 35, 20],
    [10, 0, undefined],
    [10, -3, undefined],
  ])('max %d, gap %d adds %p', (max, gap, expected) => {
    expect(outChange(gapSteps(max), gap)).toBe(expected);
  });

  test('the alarm fires exactly for a gap of 1 or more (no integer sits on the threshold)', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: -500, max: 500 }), (max, gap) => {
      const plan = gapSteps(max);
      expect(gap > plan.threshold).toBe(gap >= 1);
      expect(Number.isInteger(plan.threshold)).toBe(false);
    }));
  });

  test('the step for a gap G adds exactly min(G, max, 20): never more than the gap', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: 1, max: 1000 }), (max, gap) => {
      const change = outChange(gapSteps(max), gap)!;
      expect(change).toBe(Math.min(gap, max, MAX_STEP_ADJUSTMENTS));
      expect(change).toBeGreaterThan(0);
      expect(change).toBeLessThanOrEqual(gap);
    }));
  });

  test('intervals are contiguous, at most 20, open-ended upwards, and the change is monotone in the gap', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: 1, max: 600 }), (max, gap) => {
      const plan = gapSteps(max);
      expect(plan.intervals.length).toBeLessThanOrEqual(MAX_STEP_ADJUSTMENTS);
      expect(plan.intervals.length).toBe(Math.min(max, MAX_STEP_ADJUSTMENTS));
      assertContiguous(plan);
      expect(plan.intervals.filter((i) => i.upperBound === undefined)).toHaveLength(1);
      expect(plan.intervals[0].lowerBound).toBe(0);
      expect(outChange(plan, gap + 1)!).toBeGreaterThanOrEqual(outChange(plan, gap)!);
    }));
  });

  test('with the controller: one step makes the desired capacity exactly the need (gaps up to 20), never above the maximum', () => {
    const facts = fc.record({
      max: maxCapacity,
      desired: fc.nat(500),
      busy: fc.nat(500),
      waiting: fc.nat(500),
      idleTarget: fc.nat(30),
    });
    fc.assert(fc.property(facts, ({ max, desired: seed, busy, waiting, idleTarget }) => {
      const desired = Math.min(seed, max); // Auto Scaling keeps the desired capacity within min..max
      const decision = decideCapacity({ group: { desired, min: 0, max, busy: Math.min(busy, desired) }, idleTarget, waiting, idle: 0 });
      const change = outChange(gapSteps(max), decision.gap);
      if (decision.gap < 1) {
        expect(change).toBeUndefined();
        return;
      }
      const after = desired + change!;
      expect(after).toBeLessThanOrEqual(max);
      expect(after).toBe(decision.gap <= MAX_STEP_ADJUSTMENTS ? decision.need : desired + MAX_STEP_ADJUSTMENTS);
    }));
  });

  test.each([0, -1, 1.5])('rejects maxCapacity %p', (max) => {
    expect(() => gapSteps(max)).toThrow(/maxCapacity \(.*\) must be a whole number >= 1/);
  });
});

describe('excessSteps (scale-in on a negative capacity gap)', () => {
  test.each([
    // max, gap, expected change
    [10, -1, -1],
    [10, -4, -4],
    [3, -3, -3],
    [3, -5, -3],
    [50, -45, -20],
    [10, 0, undefined],
    [10, 2, undefined],
  ])('max %d, gap %d changes %p', (max, gap, expected) => {
    expect(inChange(excessSteps(max), gap)).toBe(expected);
  });

  test('the alarm fires exactly for an excess of 1 or more', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: -500, max: 500 }), (max, gap) => {
      expect(gap < excessSteps(max).threshold).toBe(gap <= -1);
    }));
  });

  test('the step for an excess E removes exactly min(E, max, 20): never more than the excess', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: 1, max: 1000 }), (max, excess) => {
      const change = inChange(excessSteps(max), -excess)!;
      expect(-change).toBe(Math.min(excess, max, MAX_STEP_ADJUSTMENTS));
      expect(change).toBeLessThan(0);
      expect(-change).toBeLessThanOrEqual(excess);
    }));
  });

  test('intervals are contiguous, at most 20, open-ended downwards, and the removal is monotone in the excess', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: 1, max: 600 }), (max, excess) => {
      const plan = excessSteps(max);
      expect(plan.intervals.length).toBeLessThanOrEqual(MAX_STEP_ADJUSTMENTS);
      expect(plan.intervals.length).toBe(Math.min(max, MAX_STEP_ADJUSTMENTS));
      assertContiguous(plan);
      expect(plan.intervals.filter((i) => i.lowerBound === undefined)).toHaveLength(1);
      // The step nearest the threshold ends on it (at -0, which CloudFormation reads as 0).
      expect(Math.max(...plan.intervals.map((i) => i.upperBound ?? -Infinity)) == 0).toBe(true);
      expect(-inChange(plan, -(excess + 1))!).toBeGreaterThanOrEqual(-inChange(plan, -excess)!);
    }));
  });

  test('mirrors gapSteps: removing for an excess E what gapSteps adds for a gap E', () => {
    fc.assert(fc.property(maxCapacity, fc.integer({ min: 1, max: 600 }), (max, e) => {
      expect(inChange(excessSteps(max), -e)).toBe(-outChange(gapSteps(max), e)!);
    }));
  });

  test.each([0, 2.5])('rejects maxCapacity %p', (max) => {
    expect(() => excessSteps(max)).toThrow(/must be a whole number >= 1/);
  });
});
