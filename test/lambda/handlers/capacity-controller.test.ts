import { controlCapacity, controlFleet } from '../../../lambda/handlers/capacity-controller';
import type { GroupInstance } from '../../../lambda/ports';
import { fleetEntry } from '../fixtures';
import { World } from './fakes';

const direct = fleetEntry({ name: 'linux', idleTarget: 1, directScaleOut: true });
const viaAlarm = fleetEntry({ name: 'linux', idleTarget: 1, directScaleOut: false });

function deps(world: World) {
  return { autoScaling: world.autoScaling, metrics: world.metricsPort, logger: world.logger, jobs: world.jobs };
}

function busy(count: number, from = 0): GroupInstance[] {
  return Array.from({ length: count }, (_, i) => ({ instanceId: `i-busy${from + i}`, lifecycleState: 'InService', protectedFromScaleIn: true }));
}

/** The CapacityGap and CapacityNeeded points published, in order. */
function published(world: World) {
  return world.metrics.filter((m) => m.name === 'CapacityGap' || m.name === 'CapacityNeeded');
}

describe('controlCapacity', () => {
  test('direct path: raises the desired capacity to the need in one call and publishes a gap of 0', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 2, max: 20, instances: busy(2) });

    const report = await controlCapacity(deps(world), direct, { waiting: 5 });

    // need = 5 waiting + 2 busy + 1 idle target
    expect(report).toEqual(expect.objectContaining({ need: 8, have: 2, gap: 6, mode: 'demand', raisedTo: 8, published: 0 }));
    expect(world.callsOf('setDesiredCapacity').map((c) => c.args)).toEqual([['linux-asg', 8]]);
    expect(world.group('linux-asg').desired).toBe(8);
    expect(published(world)).toEqual([
      { name: 'CapacityGap', fleet: 'linux', value: 0, options: { highResolution: true } },
      { name: 'CapacityNeeded', fleet: 'linux', value: 8, options: { highResolution: true } },
    ]);
  });

  test('a concurrent evaluation whose call crossed this one (a smaller need set after it) is undone at once', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 2, max: 20, instances: busy(2) });
    const set = world.autoScaling.setDesiredCapacity;
    let crossed = false;
    const racing = {
      ...world.autoScaling,
      setDesiredCapacity: async (name: string, desired: number) => {
        await set(name, desired);
        if (!crossed) {
          crossed = true;
          world.group('linux-asg').desired = 6; // another delivery's call, computed from an older queue, lands now
        }
      },
    };

    const report = await controlCapacity({ ...deps(world), autoScaling: racing }, direct, { waiting: 5 });

    expect(report?.raisedTo).toBe(8);
    expect(world.callsOf('setDesiredCapacity').map((c) => c.args)).toEqual([['linux-asg', 8], ['linux-asg', 8]]);
    expect(world.group('linux-asg').desired).toBe(8);
  });

  test('a repeated evaluation on unchanged facts asks for nothing: no SetDesiredCapacity call, a gap of 0', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 2, max: 20, instances: busy(2) });
    await controlCapacity(deps(world), direct, { waiting: 5 });
    world.metrics.length = 0;

    const again = await controlCapacity(deps(world), direct, { waiting: 5 });

    expect(again).toEqual(expect.objectContaining({ need: 8, have: 8, gap: 0, raisedTo: undefined, published: 0 }));
    expect(world.callsOf('setDesiredCapacity')).toHaveLength(1);
    expect(world.lastMetric('CapacityGap')).toBe(0);
  });

  test('direct path off: the whole gap is published for the alarm, no SetDesiredCapacity call', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 1, max: 20 });

    const report = await controlCapacity(deps(world), viaAlarm, { waiting: 4 });

    expect(report).toEqual(expect.objectContaining({ need: 5, have: 1, gap: 4, published: 4, raisedTo: undefined }));
    expect(world.callsOf('setDesiredCapacity')).toEqual([]);
    expect(world.group('linux-asg').desired).toBe(1);
    expect(world.lastMetric('CapacityGap')).toBe(4);
    expect(world.lastMetric('CapacityNeeded')).toBe(5);
  });

  test('SetDesiredCapacity failing: the whole gap is published (the alarm closes it) and a warning logged', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 0, max: 20 });
    world.faults.add('setDesiredCapacity', () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));

    const report = await controlCapacity(deps(world), direct, { waiting: 3 });

    expect(report).toEqual(expect.objectContaining({ gap: 4, published: 4, raisedTo: undefined }));
    expect(world.group('linux-asg').desired).toBe(0);
    expect(world.lastMetric('CapacityGap')).toBe(4);
    const warning = world.logs.find((l) => l.level === 'warn');
    expect(warning).toEqual(expect.objectContaining({
      message: expect.stringContaining('could not be raised'),
      attributes: expect.objectContaining({ fleet: 'linux', target: 4, errorKind: 'Throttling', error: 'Rate exceeded' }),
    }));
  });

  test('DescribeAutoScalingGroups failing: nothing published (no data is not a zero), no call, a warning', async () => {
    const world = new World();
    world.faults.add('describeCapacity', () => new Error('AccessDenied'));

    const report = await controlCapacity(deps(world), direct, { waiting: 3 });

    expect(report).toBeUndefined();
    expect(published(world)).toEqual([]);
    expect(world.callsOf('setDesiredCapacity')).toEqual([]);
    expect(world.logs).toContainEqual(expect.objectContaining({ level: 'warn', attributes: expect.objectContaining({ fleet: 'linux', error: 'AccessDenied' }) }));
  });

  test('never lowers the desired capacity: an excess is published as a negative gap for the scale-in alarm, no call', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 6, max: 20, instances: busy(1) });

    const report = await controlCapacity(deps(world), direct, { waiting: 0 });

    // need = 0 waiting + 1 busy + 1 idle target
    expect(report).toEqual(expect.objectContaining({ need: 2, have: 6, gap: -4, published: -4, raisedTo: undefined }));
    expect(world.callsOf('setDesiredCapacity')).toEqual([]);
    expect(world.group('linux-asg').desired).toBe(6);
    expect(world.lastMetric('CapacityGap')).toBe(-4);
  });

  test('the need is clamped to the group\'s maximum: a burst beyond it raises to the maximum, not beyond', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 0, max: 10 });

    const report = await controlCapacity(deps(world), direct, { waiting: 40 });

    expect(report).toEqual(expect.objectContaining({ need: 10, unclamped: 41, raisedTo: 10 }));
    expect(world.callsOf('setDesiredCapacity').map((c) => c.args)).toEqual([['linux-asg', 10]]);
  });

  test('a group the caller read already is not read again', async () => {
    const world = new World();
    const report = await controlCapacity(deps(world), viaAlarm, { group: { desired: 0, min: 0, max: 5, instances: busy(2) }, idle: 0 });
    expect(world.callsOf('describeCapacity')).toEqual([]);
    // No demand signal and every runner busy: saturated, 2 x 2 busy + 1 idle target.
    expect(report).toEqual(expect.objectContaining({ mode: 'saturated', need: 5, gap: 5 }));
  });
});

describe('controlFleet', () => {
  test('reads the fleet\'s queue, publishes QueuedJobs, and decides with the queue as the waiting jobs', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 0, max: 20 });
    for (const jobId of [1, 2, 3]) {
      world.jobRecords.set(jobId, { jobId, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt: '2026-11-24T10:00:00Z', updatedAt: '' });
    }
    world.jobRecords.set(4, { jobId: 4, fleet: 'linux', status: 'in_progress', repository: 'acme/app', queuedAt: '2026-11-24T10:00:00Z', updatedAt: '' });

    const report = await controlFleet(deps(world), direct);

    expect(world.callsOf('queuedJobs').map((c) => c.args)).toEqual([['linux']]);
    expect(world.metrics[0]).toEqual({ name: 'QueuedJobs', fleet: 'linux', value: 3, options: { highResolution: true } });
    expect(report).toEqual(expect.objectContaining({ need: 4, raisedTo: 4 }));
  });

  test('a queue length the caller counted already is used as it is', async () => {
    const world = new World();
    await controlFleet(deps(world), viaAlarm, 7);
    expect(world.callsOf('queuedJobs')).toEqual([]);
    expect(world.lastMetric('QueuedJobs')).toBe(7);
    expect(world.lastMetric('CapacityGap')).toBe(8);
  });
});
