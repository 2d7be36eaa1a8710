import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { main } from '../../cli/main';
import { parseSimulateArgs, runSimulations, SimulateOptions, SimulationRow } from '../../cli/simulate/command';
import { readTrace } from '../../cli/simulate/scenarios';
import { fleetsOfTemplate, FleetModel, readFleets } from '../../cli/simulate/template';
import { ExampleRunnersStack } from '../../examples/typescript/stack';

let model: FleetModel;
let assembly: string;
let rows: SimulationRow[];
const options = (over: Partial<SimulateOptions> = {}): SimulateOptions => ({ app: assembly, set: [], assume: [], seed: 1, json: true, ...over });
const row = (scenario: string, configuration: string) => rows.find((r) => r.scenario === scenario && r.configuration === configuration)!;

beforeAll(async () => {
  assembly = mkdtempSync(join(tmpdir(), 'simulate-'));
  const app = new App({ outdir: assembly });
  const stack = new ExampleRunnersStack(app, 'Example', { env: { account: '123456789012', region: 'us-east-1' } });
  app.synth();
  model = fleetsOfTemplate('Example', Template.fromStack(stack).toJSON())[0];
  rows = await runSimulations(options(), model);
});

describe('reading the synthesized template', () => {
  test('finds the fleets, their group sizes, warm pool, alarms and policies, and the runtime configuration', () => {
    const fleets = readFleets(assembly);
    expect(fleets.map((f) => f.fleet.name)).toEqual(['linux-x64', 'linux-arm64']);
    expect(model).toMatchObject({ minSize: 0, maxSize: 20, warmPool: { minSize: 2, reuseOnScaleIn: true } });
    expect(model.config.fleets).toHaveLength(1);
    expect(model.config.webhook).toBeDefined();
    expect(model.fleet).toMatchObject({ idleTarget: 2, directScaleOut: true });
    const out = model.alarms.find((a) => a.comparison === 'GreaterThanThreshold')!;
    expect(out).toMatchObject({ metricName: 'CapacityGap', period: 10, threshold: 0.5, statistic: 'Maximum' });
    expect(out.policies[0]).toMatchObject({ kind: 'step', warmup: 0 });
    expect(out.policies[0].steps).toHaveLength(20);
    const inAlarm = model.alarms.find((a) => a.comparison === 'LessThanThreshold')!;
    expect(inAlarm).toMatchObject({ metricName: 'CapacityGap', period: 60, evaluationPeriods: 2, threshold: -0.5 });
  });

  test('a missing assembly or one without a fleet is named with the fix', () => {
    expect(() => readFleets(join(assembly, 'nope'))).toThrow(/no such file or directory. Synthesize first/);
    const empty = mkdtempSync(join(tmpdir(), 'simulate-empty-'));
    writeFileSync(join(empty, 'Other.template.json'), JSON.stringify({ Resources: {} }));
    expect(() => readFleets(empty)).toThrow(/no GitHubRunnerFleet found in 1 template/);
  });
});

describe('the targets on the example stack\'s default fleet', () => {
  const warmStart = 30;

  test('every scenario ran under the three configurations, with every field of the JSON', () => {
    expect(rows.map((r) => `${r.scenario}/${r.configuration}`)).toEqual(['single', 'burst10', 'burst50', 'two-bursts', 'from-zero', 'workday']
      .flatMap((s) => ['fleet', 'fleet-no-webhook', 'reference'].map((c) => `${s}/${c}`)));
    for (const r of rows) {
      for (const field of ['waitP50', 'waitP95', 'waitMax', 'instanceHours', 'excessInstanceHours', 'peakInstances', 'jobsKilled', 'unstarted', 'warmStartSeconds']) {
        expect(typeof (r as any)[field]).toBe('number');
      }
      expect(r.warmStartSeconds).toBe(warmStart);
    }
  });

  test('lone job on a warm fleet: running within warm start + 15 s', () => {
    expect(row('single', 'fleet').waitMax).toBeLessThanOrEqual(warmStart + 15);
  });

  test('burst50 (max 60, a warm pool of 50): every job running within warm start + 60 s', () => {
    const r = row('burst50', 'fleet');
    expect(r.overrides).toEqual(['maxCapacity=60', 'warmPool.minSize=50']);
    expect(r.unstarted).toBe(0);
    expect(r.waitMax).toBeLessThanOrEqual(warmStart + 60);
  });

  test('two-bursts: p95 within warm start + 30 s; from-zero: the first job within warm start + 20 s', () => {
    expect(row('two-bursts', 'fleet').waitP95).toBeLessThanOrEqual(warmStart + 30);
    expect(row('from-zero', 'fleet').waitMin).toBeLessThanOrEqual(warmStart + 20);
  });

  test('workday: excess instance-hours at most 10% of all', () => {
    const r = row('workday', 'fleet');
    expect(r.jobs).toBeGreaterThan(500);
    expect(r.excessInstanceHours).toBeLessThanOrEqual(0.1 * r.instanceHours);
  });

  test('without a webhook: burst10 p95 within 4 minutes, and no scenario worse than the reference', () => {
    expect(row('burst10', 'fleet-no-webhook').waitP95).toBeLessThanOrEqual(240);
    for (const scenario of ['single', 'burst10', 'burst50', 'two-bursts', 'from-zero', 'workday']) {
      const own = row(scenario, 'fleet-no-webhook');
      const reference = row(scenario, 'reference');
      expect(own.waitP95).toBeLessThanOrEqual(reference.waitP95);
      expect(own.unstarted).toBeLessThanOrEqual(reference.unstarted);
    }
  });

  test('no job killed anywhere', () => {
    expect(rows.filter((r) => r.jobsKilled > 0)).toEqual([]);
  });

  test('the same seed gives the same figures; another seed other jobs', async () => {
    const again = await runSimulations(options({ scenario: 'workday' }), model);
    expect(again).toEqual(rows.filter((r) => r.scenario === 'workday'));
    const other = await runSimulations(options({ scenario: 'workday', seed: 2 }), model);
    expect(other[0].jobs).not.toBe(again[0].jobs);
  });
});

describe('what the simulator runs', () => {
  test('the webhook handler sees every delivery and its controller raises the group directly', () => {
    const r = row('burst10', 'fleet');
    expect(r.events.deliveries).toBe(30); // queued, in_progress, completed per job
    expect(r.events.directRaises).toBeGreaterThan(0);
    expect(row('burst10', 'fleet-no-webhook').events.deliveries).toBe(0);
  });

  test('without the direct path the alarm closes the gap, 20 instances a step at most', async () => {
    const [fleet] = await runSimulations(options({ scenario: 'burst50', set: ['directScaleOut=false'] }), model);
    expect(fleet.events.directRaises).toBe(0);
    expect(fleet.events.alarmExecutions).toBeGreaterThanOrEqual(3); // 50 = 20 + 20 + 10
    expect(fleet.unstarted).toBe(0);
  });

  test('--set and --assume change the run', async () => {
    const [slow] = await runSimulations(options({ scenario: 'burst10', assume: ['warmStart=100-100'] }), model);
    expect(slow.warmStartSeconds).toBe(100);
    expect(slow.waitMax).toBeGreaterThanOrEqual(100);
    const [small] = await runSimulations(options({ scenario: 'burst10', set: ['maxCapacity=3'] }), model);
    // At most 3 at a time (plus instances still shutting down): the burst takes several rounds of jobs.
    expect(small.peakInstances).toBeLessThan(row('burst10', 'fleet').peakInstances);
    expect(small.waitMax).toBeGreaterThan(300);
  });
});

describe('trace files', () => {
  test('CSV with seconds, and JSON with timestamps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    writeFileSync(join(dir, 'jobs.csv'), '# my jobs\nqueuedAt,duration,labels\n0,60,linux x64\n30,120,\n');
    expect(readTrace(join(dir, 'jobs.csv'))).toEqual([
      { queuedAt: 120, duration: 60, labels: ['linux', 'x64'] },
      { queuedAt: 150, duration: 120, labels: undefined },
    ]);
    writeFileSync(join(dir, 'jobs.json'), JSON.stringify([
      { queuedAt: '2026-11-02T10:00:10Z', duration: 30 }, { queuedAt: '2026-11-02T10:00:00Z', duration: 40, labels: ['a'] },
    ]));
    expect(readTrace(join(dir, 'jobs.json')).map((j) => j.queuedAt)).toEqual([130, 120]);
  });

  test('bad traces are named with the row and the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    writeFileSync(join(dir, 'a.csv'), 'when,how long\n1,2\n');
    expect(() => readTrace(join(dir, 'a.csv'))).toThrow(/header must name queuedAt and duration/);
    writeFileSync(join(dir, 'b.csv'), 'queuedAt,duration\n1,-2\n');
    expect(() => readTrace(join(dir, 'b.csv'))).toThrow(/row 1: duration "-2" is not a positive number/);
    writeFileSync(join(dir, 'c.json'), JSON.stringify([{ queuedAt: 'soon', duration: 1 }]));
    expect(() => readTrace(join(dir, 'c.json'))).toThrow(/queuedAt "soon" is neither seconds nor an ISO 8601 timestamp/);
  });

  test('a job whose labels no runner of the fleet has is never started (GitHub matches every label)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    writeFileSync(join(dir, 'jobs.csv'), 'queuedAt,duration,labels\n0,60,self-hosted linux x64\n0,60,self-hosted gpu\n');
    const [fleet] = await runSimulations(options({ trace: join(dir, 'jobs.csv') }), model);
    expect(fleet).toMatchObject({ jobs: 2, unstarted: 1 });
  });

  test('a trace runs under the three configurations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trace-'));
    writeFileSync(join(dir, 'jobs.csv'), 'queuedAt,duration\n0,60\n0,60\n0,60\n');
    const result = await runSimulations(options({ trace: join(dir, 'jobs.csv') }), model);
    expect(result.map((r) => [r.scenario, r.configuration, r.jobs, r.unstarted])).toEqual([
      ['trace', 'fleet', 3, 0], ['trace', 'fleet-no-webhook', 3, 0], ['trace', 'reference', 3, 0],
    ]);
  });
});

describe('the command line', () => {
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, (t) => out.push(t), (t) => err.push(t));
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  test('simulate --json prints one object per scenario and configuration', async () => {
    const result = await run('simulate', '--app', assembly, '--scenario', 'single', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out).map((r: SimulationRow) => r.configuration)).toEqual(['fleet', 'fleet-no-webhook', 'reference']);
  });

  test('the table names its columns; --fleet picks a fleet', async () => {
    const result = await run('simulate', '--app', assembly, '--scenario', 'single', '--fleet', 'linux-arm64');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^scenario\s+configuration\s+jobs\s+wait p50/);
  });

  test('--help lists every assumption with its source', async () => {
    const result = await run('simulate', '--help');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/warmStart = 10-30 s\n\s+REFERENCE.md/);
    expect(result.out).toMatch(/busyLag = 25-60 s/);
  });

  test.each([
    [['simulate', '--scenario', 'nope'], /--scenario nope: unknown; use one of single, burst10/],
    [['simulate', '--scenario', 'single', '--trace', 'x.csv'], /exclude each other/],
    [['simulate', '--bogus'], /unknown option "--bogus"/],
    [['simulate', '--set'], /--set needs a value: --set maxCapacity=30/],
    [['simulate', '--seed', 'x'], /--seed x: expected a whole number/],
  ])('%p is refused with the fix', async (args, message) => {
    const result = await run(...(args as string[]));
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message as RegExp);
  });

  test('bad --set and --assume values are refused with the fix', async () => {
    expect((await run('simulate', '--app', assembly, '--set', 'colour=blue')).err).toMatch(/--set colour=blue: expected name=value with a name among minCapacity/);
    expect((await run('simulate', '--app', assembly, '--set', 'maxCapacity=0')).err).toMatch(/--set maxCapacity=0: expected a whole number >= 1/);
    expect((await run('simulate', '--app', assembly, '--assume', 'warmStart=30-10')).err).toMatch(/upper end \(10\) is below its lower end \(30\)/);
    expect((await run('simulate', '--app', assembly, '--assume', 'speed=1')).err).toMatch(/unknown assumption "speed"/);
  });

  test('an unknown command shows the usage', async () => {
    const result = await run('plan');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/unknown command "plan"/);
    expect(parseSimulateArgs(['--help'])).toBe('help');
  });
});
