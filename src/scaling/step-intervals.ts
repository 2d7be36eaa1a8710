/**
 * Step-scaling interval arithmetic for the idle-runner alarms. Plain functions on plain data (no
 * constructs), so that the invariants can be checked with properties.
 *
 * The idle-runner metric is an integer. Both alarms use a threshold half-way between two integers, so
 * that no integer value sits on an interval boundary:
 *
 * - scale out: alarm when `idle < target - 0.5` (that is, `idle <= target - 1`). With
 *   `d = target - idle` (the deficit, `>= 1` while in alarm), `metric - threshold = 0.5 - d`. The step for
 *   `d` is the interval `[-d, -(d - 1))` and adds `d` instances: the whole deficit in one step.
 * - scale in: alarm when `idle > target + 0.5` (that is, `idle >= target + 1`). With `e = idle - target`
 *   (the excess), `metric - threshold = e - 0.5`. The step for `e` is `[e - 1, e)` and removes `e`
 *   instances: never more than the excess.
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
 * Scale-out steps for an idle-runner target.
 *
 * @param idleTarget idle runners to keep ready (>= 1; with 0 the alarm could never fire)
 * @param maxCapacity the group's maximum size: no step adds more than this
 */
export function scaleOutSteps(idleTarget: number, maxCapacity: number): StepPlan {
  assertWhole('idleTarget', idleTarget, 1);
  assertWhole('maxCapacity', maxCapacity, 1);
  // The deficit is at most the target (idle cannot go below 0) and never worth more than max. Past
  // 20 steps the open-ended last step adds 20: never more than the deficit, and the alarm repeats.
  const count = Math.min(idleTarget, maxCapacity, MAX_STEP_ADJUSTMENTS);
  const intervals: StepInterval[] = [];
  for (let d = 1; d <= count; d++) {
    const last = d === count;
    intervals.push({
      upperBound: -(d - 1),
      lowerBound: last ? undefined : -d,
      change: d,
    });
  }
  return { threshold: idleTarget - 0.5, intervals };
}

/**
 * Scale-in steps for an idle-runner target.
 *
 * @param idleTarget idle runners to keep ready (>= 0)
 * @param maxCapacity the group's maximum size: the excess can never be larger
 */
export function scaleInSteps(idleTarget: number, maxCapacity: number): StepPlan {
  assertWhole('idleTarget', idleTarget, 0);
  assertWhole('maxCapacity', maxCapacity, 1);
  // The open-ended last step removes `count` instances: with more than 20 excess runners the alarm
  // repeats every period and removes the rest in the next steps.
  return { threshold: idleTarget + 0.5, intervals: unitSteps(Math.min(maxCapacity, MAX_STEP_ADJUSTMENTS), -1) };
}

/**
 * Scale-out steps on the runner demand (queued jobs + idle target - idle runners, published by the
 * webhook and the idle-metric function). Alarm when `demand > 0.5` (that is, `demand >= 1`). With `D`
 * the demand, `metric - threshold = D - 0.5`; the step for `D` is `[D - 1, D)` and adds `D` instances:
 * the whole demand in one step, never more than `maxCapacity` (nor 20, the last step being open-ended).
 *
 * @param maxCapacity the group's maximum size
 */
export function demandSteps(maxCapacity: number): StepPlan {
  assertWhole('maxCapacity', maxCapacity, 1);
  return { threshold: 0.5, intervals: unitSteps(Math.min(maxCapacity, MAX_STEP_ADJUSTMENTS), 1) };
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
