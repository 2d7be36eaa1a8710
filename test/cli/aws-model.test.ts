import { DEFAULT_ASSUMPTIONS } from '../../cli/simulate/assumptions';
import { SimCloudWatch, SimGroup, SimInstance, SimPolicies } from '../../cli/simulate/aws';
import { Random, SimClock } from '../../cli/simulate/engine';
import type { AlarmModel, PolicyModel } from '../../cli/simulate/template';

/** A group of `inService` idle instances and a big warm pool, with its clock and policies. */
function world(options: { inService?: number; min?: number; max?: number } = {}) {
  const clock = new SimClock();
  const assume = { ...DEFAULT_ASSUMPTIONS, warmStart: { min: 20, max: 20 } };
  const started: SimInstance[] = [];
  const stopped: SimInstance[] = [];
  const group = new SimGroup(clock, new Random(1), assume, {
    min: options.min ?? 0, max: options.max ?? 60, warmPool: { minSize: 60, reuseOnScaleIn: true, poolState: 'Stopped' },
  }, { inService: (i) => started.push(i), runnerStopped: (i) => stopped.push(i) });
  group.start(options.inService ?? 1);
  const cloudWatch = new SimCloudWatch(clock, assume);
  const policies = new SimPolicies(clock, group, cloudWatch, assume);
  return { clock, group, cloudWatch, policies, started, stopped };
}

/** Unit steps +1..+20 over `metric - 0.5`, the last open-ended: the shape of the old demand policy. */
const unitPolicy = (warmup: number | undefined, sign = 1): PolicyModel => ({
  kind: 'step',
  adjustmentType: 'ChangeInCapacity',
  warmup,
  steps: Array.from({ length: 20 }, (_, i) => sign > 0
    ? { lower: i, upper: i === 19 ? undefined : i + 1, change: i + 1 }
    : { lower: i === 19 ? undefined : -(i + 1), upper: -i, change: -(i + 1) }),
});
const alarm = (threshold: number, comparison: AlarmModel['comparison'] = 'GreaterThanThreshold'): AlarmModel => ({
  id: 'A', metricName: 'M', period: 10, evaluationPeriods: 1, datapointsToAlarm: 1, threshold, comparison, statistic: 'Maximum', policies: [],
});

describe('step scaling with an instance warm-up (the configuration this library replaced)', () => {
  test('a demand of 50 adds 20, and repeats during the 300 s warm-up are no-ops', async () => {
    const { clock, group, policies } = world();
    const a = alarm(0.5);
    policies.execute(unitPolicy(300), 50, a);
    expect(group.desired).toBe(21);
    // The repeats a minute and two minutes later: the same (open-ended) step, nothing added.
    await clock.runUntil(60);
    policies.execute(unitPolicy(300), 50, a);
    await clock.runUntil(120);
    policies.execute(unitPolicy(300), 50, a);
    expect(group.desired).toBe(21);
    // Only after the warm-up does a repeat add again.
    await clock.runUntil(400);
    policies.execute(unitPolicy(300), 50, a);
    expect(group.desired).toBe(41);
  });

  test('during warm-up a larger step adds only the difference', () => {
    const { group, policies } = world();
    policies.execute(unitPolicy(300), 5, alarm(0.5));
    expect(group.desired).toBe(6);
    policies.execute(unitPolicy(300), 8, alarm(0.5));
    expect(group.desired).toBe(9);
  });

  test('scale-in is blocked while any instance warms up', () => {
    const { group, policies } = world({ inService: 5 });
    policies.execute(unitPolicy(300), 1, alarm(0.5));
    expect(group.desired).toBe(6);
    policies.execute(unitPolicy(300, -1), -3, alarm(-0.5, 'LessThanThreshold'));
    expect(group.desired).toBe(6);
    expect(group.stats.blockedScaleIns).toBe(1);
  });

  test('with warm-up 0 every execution applies its step to the desired capacity', () => {
    const { group, policies } = world();
    policies.execute(unitPolicy(0), 5, alarm(0.5));
    policies.execute(unitPolicy(0), 5, alarm(0.5));
    expect(group.desired).toBe(11);
  });

  test('simple scaling waits for its activity and cooldown', async () => {
    const { clock, group, policies } = world();
    const simple: PolicyModel = { kind: 'simple', adjustmentType: 'ChangeInCapacity', steps: [], adjustment: 1, cooldown: 60 };
    policies.execute(simple, 0, alarm(0.5, 'LessThanThreshold'));
    policies.execute(simple, 0, alarm(0.5, 'LessThanThreshold'));
    expect(group.desired).toBe(2);
    await clock.runUntil(20 + 60 + 1);
    policies.execute(simple, 0, alarm(0.5, 'LessThanThreshold'));
    expect(group.desired).toBe(3);
  });
});

describe('the group', () => {
  test('launches from the warm pool to match the desired capacity; the instance goes into service after the warm start', async () => {
    const { clock, group, started } = world();
    group.setDesired(3);
    expect(group.active()).toHaveLength(3);
    expect(group.stats.launchedWarm).toBe(2);
    await clock.runUntil(20);
    expect(started).toHaveLength(3);
  });

  test('never terminates a protected instance; the desired capacity still goes down and the group catches up later', async () => {
    const { clock, group } = world({ inService: 2 });
    const [a, b] = group.active();
    group.setProtection(a, true);
    group.setProtection(b, true);
    group.setDesired(0);
    expect(group.active()).toHaveLength(2);
    group.setProtection(a, false);
    expect(a.state).toBe('terminating');
    expect(b.state).toBe('inservice');
    await clock.runUntil(100);
    expect(a.state).toBe('warm'); // reused: it ran no job
  });

  test('a terminating instance whose runner runs a job holds its terminate action until the job ends: no job is killed', async () => {
    const { clock, group, stopped } = world({ inService: 1 });
    const [a] = group.active();
    a.job = { id: 1 }; // the job started; the protection has not been set yet
    group.setDesired(0);
    expect(a.state).toBe('terminating');
    expect(stopped).toHaveLength(0); // the runner was not stopped
    await clock.runUntil(600);
    expect(a.state).toBe('terminating');
    group.jobEnded(a);
    await clock.runUntil(700);
    expect(a.state).not.toBe('terminating');
    expect(a.killedJobs).toBe(0);
  });

  test('terminating with a decrement shrinks the group; below the minimum AWS refuses it', () => {
    const { group } = world({ inService: 2, min: 1 });
    const [a, b] = group.active();
    group.terminateInstance(a, true);
    expect(group.desired).toBe(1);
    expect(() => group.terminateInstance(b, true)).toThrow(/min size constraint/);
    group.terminateInstance(b, false);
    expect(group.active()).toHaveLength(1); // a replacement was launched
  });

  test('SetDesiredCapacity outside min..max is refused', () => {
    const { group } = world({ max: 5 });
    expect(() => group.setDesired(6)).toThrow(/outside the group's min 0 and max 5/);
  });
});

describe('CloudWatch alarms', () => {
  test('act on the transition to ALARM and again every alarmRepeat seconds while it lasts; missing data is not breaching', async () => {
    const { clock, cloudWatch } = world();
    const seen: Array<{ t: number; value: number }> = [];
    cloudWatch.watch({ ...alarm(0.5), policies: [unitPolicy(0)] }, (_p, value) => seen.push({ t: clock.now, value }));
    clock.every(10, 1, () => cloudWatch.put('M', 3)); // breaching in every period from t=1
    await clock.runUntil(100);
    expect(seen.map((s) => s.t)).toEqual([15, 75]);
    expect(seen.every((s) => s.value === 3)).toBe(true);
  });

  test('a lone point makes one execution; the alarm then goes back to OK', async () => {
    const { clock, cloudWatch } = world();
    const seen: number[] = [];
    cloudWatch.watch({ ...alarm(0.5), policies: [unitPolicy(0)] }, () => seen.push(clock.now));
    clock.at(3, () => cloudWatch.put('M', 7));
    clock.at(33, () => cloudWatch.put('M', 2));
    await clock.runUntil(200);
    expect(seen).toEqual([15, 45]);
  });

  test('M of N: every evaluation period must breach', async () => {
    const { clock, cloudWatch } = world();
    const seen: number[] = [];
    cloudWatch.watch({ ...alarm(-0.5, 'LessThanThreshold'), period: 60, evaluationPeriods: 2, datapointsToAlarm: 2, policies: [unitPolicy(0, -1)] },
      () => seen.push(clock.now));
    clock.every(60, 30, () => cloudWatch.put('M', -2));
    await clock.runUntil(200);
    // Both periods breach first at 125 s; it stays in ALARM, so the action repeats a minute later.
    expect(seen).toEqual([125, 185]);
  });
});
