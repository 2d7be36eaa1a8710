import type { Range } from './engine';

/**
 * Every timing and rule the simulator assumes, with where it comes from. Each can be overridden with
 * `--assume name=value` (a number of seconds, or `min-max` for a range).
 */
export interface Assumptions {
  /** Scaling decision to runner online, from a Stopped warm pool (start, launch hook, registration). */
  readonly warmStart: Range;
  /** The same for an instance launched cold (boot, packages, runner download, registration). */
  readonly coldStart: Range;
  /** How long GitHub's `busy` flag reads false after a job starts. */
  readonly busyLag: Range;
  /** From a job's queued/started/completed event to the webhook delivery reaching the function. */
  readonly deliveryDelay: Range;
  /** From a runner being idle and a job queued to GitHub assigning the job to it. */
  readonly assignDelay: Range;
  /** From a job's start to its instance being protected from scale-in (the job-started hook). */
  readonly protectDelay: number;
  /** From an ephemeral job's end to its instance terminating itself. */
  readonly retireDelay: number;
  /** From a terminate decision (or the terminate hook's completion) to the instance being gone. */
  readonly shutdown: number;
  /** From a metric being published to CloudWatch alarms seeing it. */
  readonly metricDelay: number;
  /** How often an alarm that stays in ALARM invokes its Auto Scaling action again. */
  readonly alarmRepeat: number;
  /** The minute tick's interval (EventBridge rate(1 minute)). */
  readonly tickInterval: number;
  /** The step policies' warm-up when neither the policy nor the group sets one (the default cooldown). */
  readonly defaultWarmup: number;
}

/** The source of each assumption, as the docs and `simulate --help` show it. */
export const ASSUMPTION_SOURCES: Record<keyof Assumptions, string> = {
  warmStart: 'REFERENCE.md "Numbers from the field": warm pool (Stopped) to runner online 10-30 s after the scaling decision',
  coldStart: 'REFERENCE.md "Numbers from the field": cold launch with the runner installed at boot 2.5-4 min',
  busyLag: 'REFERENCE.md "GitHub REST API": busy can read false for 25-60 s after a job starts',
  deliveryDelay: 'assumption: GitHub documents no delivery latency; deliveries are typically seen within about a second',
  assignDelay: 'assumption: the runner long-polls GitHub (about 50 s per poll), and a queued job reaches an idle runner within seconds',
  protectDelay: 'assumption: the job-started hook runs before the first step and calls SetInstanceProtection (about a second)',
  retireDelay: 'assumption: the bootstrap sees the runner exit and calls TerminateInstanceInAutoScalingGroup within seconds',
  shutdown: 'assumption: EC2 stops billing an instance shortly after termination begins (30 s)',
  metricDelay: 'assumption: high-resolution metrics (EMF) reach CloudWatch alarms within a few seconds',
  alarmRepeat: 'REFERENCE.md "Scaling": Auto Scaling alarm actions run on the transition to ALARM and again about once a minute while it stays in ALARM',
  tickInterval: 'the control plane\'s schedule: rate(1 minute)',
  defaultWarmup: 'REFERENCE.md "Scaling": without DefaultInstanceWarmup the default cooldown (300 s) may apply',
};

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  warmStart: { min: 10, max: 30 },
  coldStart: { min: 150, max: 240 },
  busyLag: { min: 25, max: 60 },
  deliveryDelay: { min: 0.5, max: 1.5 },
  assignDelay: { min: 1, max: 3 },
  protectDelay: 1,
  retireDelay: 5,
  shutdown: 30,
  metricDelay: 5,
  alarmRepeat: 60,
  tickInterval: 60,
  defaultWarmup: 300,
};

/** Applies `name=value` overrides; throws naming the assumption, the value and the fix. */
export function withAssumptions(base: Assumptions, overrides: string[]): Assumptions {
  const result: Record<string, unknown> = { ...base };
  for (const override of overrides) {
    const eq = override.indexOf('=');
    const name = eq < 0 ? override : override.slice(0, eq);
    const value = eq < 0 ? '' : override.slice(eq + 1);
    if (!(name in base)) {
      throw new Error(`--assume ${override}: unknown assumption ${JSON.stringify(name)}; known: ${Object.keys(base).join(', ')}`);
    }
    const current = (base as unknown as Record<string, unknown>)[name];
    const range = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(value);
    if (!range) {
      throw new Error(`--assume ${override}: expected seconds (e.g. ${name}=20) or a range (e.g. ${name}=10-30)`);
    }
    const min = Number(range[1]);
    const max = range[2] === undefined ? min : Number(range[2]);
    if (max < min) {
      throw new Error(`--assume ${override}: the range's upper end (${max}) is below its lower end (${min}): write ${name}=${max}-${min}`);
    }
    if (typeof current === 'number') {
      if (range[2] !== undefined) {
        throw new Error(`--assume ${override}: ${name} is one number of seconds, not a range: write ${name}=${min}`);
      }
      result[name] = min;
    } else {
      result[name] = { min, max };
    }
  }
  return result as unknown as Assumptions;
}
