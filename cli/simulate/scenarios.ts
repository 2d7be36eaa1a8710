import { readFileSync } from 'fs';
import { Random } from './engine';
import type { FleetModel, AlarmModel } from './template';
import type { JobSpec, RunConfiguration } from './world';

/** A built-in scenario: its jobs, and the fleet settings it needs (applied to every configuration). */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Settings the scenario overrides, as `--set` would (`maxCapacity=60`). */
  readonly settings: string[];
  jobs(random: Random): JobSpec[];
}

/** Jobs start after two minutes: the fleet has settled at its idle target by then. */
const START = 120;

const burst = (count: number, at: number, duration: number): JobSpec[] =>
  Array.from({ length: count }, () => ({ queuedAt: at, duration }));

export const SCENARIOS: Scenario[] = [
  {
    name: 'single',
    description: 'one 10-minute job on a warm fleet',
    settings: [],
    jobs: () => burst(1, START, 600),
  },
  {
    name: 'burst10',
    description: '10 jobs of 5 minutes queued at once',
    settings: [],
    jobs: () => burst(10, START, 300),
  },
  {
    name: 'burst50',
    description: '50 jobs of 5 minutes queued at once',
    settings: ['maxCapacity=60', 'warmPool.minSize=50'],
    jobs: () => burst(50, START, 300),
  },
  {
    name: 'two-bursts',
    description: 'two bursts of 10 jobs of 5 minutes, two minutes apart',
    settings: [],
    jobs: () => [...burst(10, START, 300), ...burst(10, START + 120, 300)],
  },
  {
    name: 'from-zero',
    description: 'a fleet at zero (min 0, idle target 0, webhook): 3 jobs of 5 minutes',
    settings: ['minCapacity=0', 'idleRunners=0'],
    jobs: () => burst(3, START, 300),
  },
  {
    name: 'workday',
    description: 'a working day: Poisson arrivals peaking at 100 jobs/h around 13:00 (06:00-20:00, 2/h at night), durations log-normal around 6 minutes',
    settings: [],
    jobs: (random) => workday(random),
  },
];

/** Arrival rate (jobs per hour) at an hour of the day. */
export function workdayRate(hour: number): number {
  if (hour < 6 || hour >= 20) return 2;
  return 2 + 98 * Math.sin((Math.PI * (hour - 6)) / 14) ** 2;
}

function workday(random: Random): JobSpec[] {
  const jobs: JobSpec[] = [];
  const peak = 100;
  // Thinning: candidates at the peak rate, each kept with probability rate / peak.
  for (let t = START + random.exponential(3600 / peak); t < 24 * 3600; t += random.exponential(3600 / peak)) {
    if (random.next() * peak < workdayRate(t / 3600)) {
      const minutes = Math.min(60, Math.max(1, Math.exp(Math.log(6) + 0.6 * random.normal())));
      jobs.push({ queuedAt: Math.round(t), duration: Math.round(minutes * 60) });
    }
  }
  return jobs;
}

/**
 * A user's trace: CSV with a header naming `queuedAt` and `duration` (and optionally `labels`, separated
 * by spaces or semicolons), or a JSON array of `{ queuedAt, duration, labels? }`. `queuedAt` is seconds
 * from the start or an ISO 8601 timestamp (the first one is then the start); `duration` is seconds.
 */
export function readTrace(path: string): JobSpec[] {
  const text = readFileSync(path, 'utf8');
  const rows: Array<Record<string, unknown>> = path.endsWith('.json') || /^\s*\[/.test(text) ? JSON.parse(text) : csvRows(text, path);
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new Error(`--trace ${path}: no jobs in it (expected CSV with a queuedAt,duration header, or a JSON array)`);
  }
  const times = rows.map((r, i) => timeOf(r.queuedAt, `${path} row ${i + 1}: queuedAt`));
  const origin = rows.some((r) => typeof r.queuedAt === 'string' && !/^\d+(\.\d+)?$/.test(r.queuedAt)) ? Math.min(...times) : 0;
  return rows.map((r, i) => {
    const duration = Number(r.duration);
    if (!Number.isFinite(duration) || duration <= 0) {
      throw new Error(`--trace ${path} row ${i + 1}: duration ${JSON.stringify(r.duration)} is not a positive number of seconds`);
    }
    const labels = Array.isArray(r.labels) ? r.labels.map(String)
      : typeof r.labels === 'string' && r.labels.trim() !== '' ? r.labels.split(/[;\s]+/).filter(Boolean) : undefined;
    return { queuedAt: START + times[i] - origin, duration, labels };
  });
}

function csvRows(text: string, path: string): Array<Record<string, unknown>> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  if (!header.includes('queuedAt') || !header.includes('duration')) {
    throw new Error(`--trace ${path}: the CSV header must name queuedAt and duration (got ${JSON.stringify(header.join(','))})`);
  }
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [header[i], cell.trim()])));
}

function timeOf(value: unknown, what: string): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value))) return Number(value);
  const parsed = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(parsed)) {
    throw new Error(`${what} ${JSON.stringify(value)} is neither seconds nor an ISO 8601 timestamp`);
  }
  return parsed / 1000;
}

/** The settings `--set` takes, and how each applies to a configuration. */
const SETTINGS: Record<string, (run: Mutable, value: string) => void> = {
  'minCapacity': (run, v) => { run.minSize = whole(v, 'minCapacity'); },
  'maxCapacity': (run, v) => { run.maxSize = whole(v, 'maxCapacity', 1); },
  'idleRunners': (run, v) => { run.fleet.idleTarget = whole(v, 'idleRunners'); },
  'directScaleOut': (run, v) => { run.fleet.directScaleOut = bool(v, 'directScaleOut'); },
  'webhook': (run, v) => { if (!bool(v, 'webhook')) run.webhook = false; },
  'warmPool.enabled': (run, v) => { if (!bool(v, 'warmPool.enabled')) run.warmPool = undefined; },
  'warmPool.minSize': (run, v) => {
    run.warmPool = { ...(run.warmPool ?? { reuseOnScaleIn: true, poolState: 'Stopped' }), minSize: whole(v, 'warmPool.minSize') };
  },
  'warmPool.maxGroupPreparedCapacity': (run, v) => {
    run.warmPool = { ...(run.warmPool ?? { minSize: 0, reuseOnScaleIn: true, poolState: 'Stopped' }), maxGroupPreparedCapacity: whole(v, 'warmPool.maxGroupPreparedCapacity') };
  },
};

export const SETTING_NAMES = Object.keys(SETTINGS);

type Mutable = {
  name: string;
  minSize: number;
  maxSize: number;
  warmPool?: RunConfiguration['warmPool'];
  alarms: AlarmModel[];
  fleet: { -readonly [K in keyof FleetModel['fleet']]: FleetModel['fleet'][K] };
  webhook: boolean;
  overrides: string[];
};

/**
 * The configurations a scenario runs: `fleet` (as synthesized), `fleet-no-webhook` (the same without a
 * demand signal) and `reference` (the design this library replaces: the idle-runner metric once a
 * minute, simple scaling +1 / -1 with 60 s / 180 s cooldowns, and a warm pool of two stopped instances).
 * `settings` (the scenario's, then the user's `--set`) apply to all three.
 */
export function configurations(model: FleetModel, settings: string[]): RunConfiguration[] {
  const build = (name: string): Mutable => {
    const run: Mutable = {
      name,
      minSize: model.minSize,
      maxSize: model.maxSize,
      warmPool: model.warmPool,
      alarms: model.alarms,
      fleet: { ...model.fleet },
      webhook: model.config.webhook !== undefined,
      overrides: [],
    };
    for (const setting of settings) {
      const eq = setting.indexOf('=');
      const key = eq < 0 ? setting : setting.slice(0, eq);
      const apply = SETTINGS[key];
      if (!apply || eq < 0) {
        throw new Error(`--set ${setting}: expected name=value with a name among ${SETTING_NAMES.join(', ')}`);
      }
      apply(run, setting.slice(eq + 1));
      run.overrides.push(setting);
    }
    return run;
  };
  const fleet = build('fleet');
  const noWebhook = build('fleet-no-webhook');
  noWebhook.webhook = false;
  const reference = build('reference');
  reference.webhook = false;
  reference.fleet.directScaleOut = false;
  reference.warmPool = { minSize: 2, maxGroupPreparedCapacity: 0, reuseOnScaleIn: true, poolState: 'Stopped' };
  reference.overrides.push('scaling=reference (IdleRunners, simple scaling +1/-1, cooldowns 60 s/180 s)', 'warmPool=2 stopped instances',
    'retirement=terminate without decrement (the group replaces an ephemeral instance at once)');
  for (const run of [noWebhook, reference]) {
    // Without a demand signal a fleet needs at least one idle runner to see any demand at all.
    if ((run.fleet.idleTarget ?? 0) === 0) {
      run.fleet.idleTarget = 1;
      run.overrides.push('idleRunners=1 (no demand signal: an idle runner is the only signal)');
    }
  }
  reference.alarms = referenceAlarms(reference.fleet.idleTarget ?? 1);
  const runs: RunConfiguration[] = [];
  for (const run of [fleet, noWebhook, reference]) {
    if (run.name === 'fleet' && !run.webhook && (run.fleet.idleTarget ?? 0) === 0 && run.minSize === 0) {
      continue; // a fleet at zero without a webhook never starts: the same as fleet-no-webhook's note
    }
    if (run.maxSize < run.minSize) {
      throw new Error(`--set: minCapacity (${run.minSize}) must not exceed maxCapacity (${run.maxSize})`);
    }
    const { webhook: _w, ...config } = model.config;
    runs.push({
      name: run.name,
      config: { ...config, ...(run.webhook && model.config.webhook ? { webhook: model.config.webhook } : {}), fleets: [run.fleet] },
      minSize: run.minSize,
      maxSize: run.maxSize,
      warmPool: run.warmPool,
      alarms: run.alarms,
      overrides: run.overrides,
      retireWithDecrement: run.name !== 'reference',
    });
  }
  return runs;
}

/** The reference design's alarms: the idle-runner count once a minute, simple scaling by one. */
function referenceAlarms(idleTarget: number): AlarmModel[] {
  const common = { metricName: 'IdleRunners', period: 60, evaluationPeriods: 1, datapointsToAlarm: 1, statistic: 'Average' as const };
  return [
    {
      ...common,
      id: 'ReferenceScaleOut',
      threshold: idleTarget - 0.5,
      comparison: 'LessThanThreshold',
      policies: [{ kind: 'simple', adjustmentType: 'ChangeInCapacity', steps: [], adjustment: 1, cooldown: 60 }],
    },
    {
      ...common,
      id: 'ReferenceScaleIn',
      threshold: idleTarget + 0.5,
      comparison: 'GreaterThanThreshold',
      policies: [{ kind: 'simple', adjustmentType: 'ChangeInCapacity', steps: [], adjustment: -1, cooldown: 180 }],
    },
  ];
}

function whole(value: string, name: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--set ${name}=${value}: expected a whole number >= ${min}`);
  }
  return n;
}

function bool(value: string, name: string): boolean {
  if (value !== 'true' && value !== 'false') {
    throw new Error(`--set ${name}=${value}: expected true or false`);
  }
  return value === 'true';
}
