import fc from 'fast-check';
import { changeFor, MAX_STEP_ADJUSTMENTS, scaleInSteps, scaleOutSteps, StepPlan } from '../../src/scaling/step-intervals';

/** Intervals must cover the line without gaps or overlaps, in order. */
function assertContiguous(plan: StepPlan): void {
  const sorted = [...plan.intervals].sort((a, b) => (a.lowerBound ?? -Infinity) - (b.lowerBound ?? -Infinity));
  for (let i = 1; i < sorted.length; i++) {
    expect(sorted[i].lowerBound).toBe(sorted[i - 1].upperBound);
  }
}

describe('scaleOutSteps', () => {
  test.each([
    // target, max, idle, expected change
    [1, 10, 0, 1],
    [3, 10, 0, 3],
    [3, 10, 1, 2],
    [3, 10, 2, 1],
    [3, 10, 3, undefined],
    [5, 2, 0, 2],
    [30, 100, 0, 20],
    [30, 100, 15, 15],
  ])('target %d, max %d, idle %d adds %p', (target, max, idle, expected) => {
    const plan = scaleOutSteps(target, max);
    const change = idle < plan.threshold ? changeFor(plan, idle) : undefined;
    expect(change).toBe(expected);
  });

  test('the alarm fires exactly when idle is below the target', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 400 }), (target, idle) => {
      const plan = scaleOutSteps(target, 1000);
      expect(idle < plan.threshold).toBe(idle < target);
    }));
  });

  test('one step covers the whole deficit, capped at max and at 20 steps; never more than the deficit', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 199 }),
      (target, max, idleSeed) => {
        const idle = idleSeed % target; // in alarm
        const plan = scaleOutSteps(target, max);
        const change = changeFor(plan, idle)!;
        const deficit = target - idle;
        expect(change).toBe(Math.min(deficit, max, MAX_STEP_ADJUSTMENTS));
        expect(change).toBeGreaterThan(0);
      }));
  });

  test('intervals are contiguous, at most 20, and monotone in demand', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (target, max) => {
      const plan = scaleOutSteps(target, max);
      expect(plan.intervals.length).toBeLessThanOrEqual(MAX_STEP_ADJUSTMENTS);
      assertContiguous(plan);
      expect(plan.intervals.filter((i) => i.lowerBound === undefined)).toHaveLength(1);
      expect(plan.intervals.some((i) => i.upperBound === undefined)).toBe(false);
      for (let idle = 0; idle + 1 < target; idle++) {
        expect(changeFor(plan, idle)!).toBeGreaterThanOrEqual(changeFor(plan, idle + 1)!);
      }
    }));
  });

  test.each([[0, 10], [-1, 10], [1.5, 10], [1, 0]])('rejects target %p with max %p', (target, max) => {
    expect(() => scaleOutSteps(target, max)).toThrow(/must be a whole number/);
  });
});

describe('scaleInSteps', () => {
  test.each([
    [1, 10, 2, -1],
    [1, 10, 5, -4],
    [0, 10, 3, -3],
    [2, 10, 2, undefined],
    [0, 50, 45, -20],
  ])('target %d, max %d, idle %d changes %p', (target, max, idle, expected) => {
    const plan = scaleInSteps(target, max);
    const change = idle > plan.threshold ? changeFor(plan, idle) : undefined;
    expect(change).toBe(expected);
  });

  test('never removes more than the excess, and removes all of it up to 20', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }),
      (target, max, excessSeed) => {
        const excess = 1 + (excessSeed % max); // idle runners can never exceed max
        const plan = scaleInSteps(target, max);
        const change = changeFor(plan, target + excess)!;
        expect(-change).toBeLessThanOrEqual(excess);
        expect(-change).toBe(Math.min(excess, MAX_STEP_ADJUSTMENTS));
      }));
  });

  test('intervals are contiguous and open-ended upwards only', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 300 }), (target, max) => {
      const plan = scaleInSteps(target, max);
      assertContiguous(plan);
      expect(plan.intervals[0].lowerBound).toBe(0);
      expect(plan.intervals.filter((i) => i.upperBound === undefined)).toHaveLength(1);
      expect(plan.intervals.length).toBeLessThanOrEqual(MAX_STEP_ADJUSTMENTS);
    }));
  });
});
