/**
 * Step-scaling interval arithmetic for the capacity-gap alarms. Plain functions on plain data (no
 * constructs), so that the invariants can be checked with properties.
 *
 * The gap is an integer. Both alarms use a threshold half-way between two integers (+0.5 and -0.5), so
 * that no integer value sits on an interval boundary, and each integer value gets a step of its own
 * size: the whole gap in one step.
 *
 * A step scaling policy takes at most {@link MAX_STEP_ADJUSTMENTS} adjustments; the last interval is
 * open-ended and applies the largest change.
 */

/** AWS quota: step adjustments per step scaling policy. */
export const MAX_STEP_ADJUSTMENTS = 20;

/** One step adjustment: `lowerBound <= metric - threshold < upperBound` changes capacity by `change`. */
export interface StepInterval {
  /** Inclusive lower bound on `metric - threshold`; `undefined` is minus infinity. */
  readonly lowerBound?: number;
  /** Exclusive upper bound on `metric - threshold`; `undefined` is plus infinity. */
  readonly upperBound?: number;
  /** Capacity change: positive adds instances, negative removes them. */
  readonly change: number;
}

/** A threshold and its intervals: what one alarm and one step policy need. */
export interface StepPlan {
  readonly threshold: number;
  readonly intervals: StepInterval[];
}

/**
 * Scale-out steps on the capacity gap (need - desired capacity, published by the capacity controller).
 * Alarm when `gap > 0.5` (that is, `gap >= 1`). With `G` the gap, `metric - threshold = G - 0.5`; the
 * step for `G` is `[G - 1, G)` and adds `G` instances: the whole gap in one step, never more than
 * `maxCapacity` (nor 20, the last step being open-ended: the controller's direct path closes larger
 * gaps, or the next evaluation the rest).
 *
 * @param maxCapacity the group's maximum size
 */
export function gapSteps(maxCapacity: number): StepPlan {
  assertWhole('maxCapacity', maxCapacity, 1);
  return { threshold: 0.5, intervals: unitSteps(Math.min(maxCapacity, MAX_STEP_ADJUSTMENTS), 1) };
}

/**
 * Scale-in steps on the capacity gap. Alarm when `gap < -0.5` (that is, an excess `E = -gap >= 1`).
 * `metric - threshold = 0.5 - E`; the step for `E` is `[-E, -(E - 1))` and removes `E` instances:
 * never more than the excess (nor 20, the last step being open-ended downwards).
 *
 * @param maxCapacity the group's maximum size: the excess can never be larger
 */
export function excessSteps(maxCapacity: number): StepPlan {
  assertWhole('maxCapacity', maxCapacity, 1);
  const count = Math.min(maxCapacity, MAX_STEP_ADJUSTMENTS);
  return {
    threshold: -0.5,
    intervals: unitSteps(count, 1).map((i) => ({
      lowerBound: i.upperBound === undefined ? undefined : -i.upperBound,
      upperBound: -i.lowerBound!,
      change: -i.change,
    })),
  };
}

/** The change a plan applies when the metric has value `value` (undefined: no interval matches). */
export function changeFor(plan: StepPlan, value: number): number | undefined {
  const x = value - plan.threshold;
  for (const interval of plan.intervals) {
    const aboveLower = interval.lowerBound === undefined || x >= interval.lowerBound;
    const belowUpper = interval.upperBound === undefined || x < interval.upperBound;
    if (aboveLower && belowUpper) {
      return interval.change;
    }
  }
  return undefined;
}

/**
 * Steps over `metric - threshold` for a threshold half-way below an integer: the value `n` (1 to
 * `count`) falls into `[n - 1, n)` and changes capacity by `sign * n`; the last interval is open-ended.
 */
function unitSteps(count: number, sign: 1 | -1): StepInterval[] {
  return Array.from({ length: count }, (_, i) => ({
    lowerBound: i,
    upperBound: i + 1 === count ? undefined : i + 1,
    change: sign * (i + 1),
  }));
}

function assertWhole(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} (${value}) must be a whole number >= ${min}`);
  }
}
