import { createIdleMetricHandler } from '../../../lambda/handlers/idle-metric';
import { GitHubError, GroupInstance, HookDelivery } from '../../../lambda/ports';
import type { FleetRuntimeConfig } from '../../../src/contract';
import { fleetEntry, runner, runtimeConfig } from '../fixtures';
import { World } from './fakes';

const NOW = new Date('2026-11-24T10:00:30Z');

/** Instances in service, protected from scale-in (their runner's job-started hook ran) or not. */
function inService(ids: string[], protectedFromScaleIn: boolean): GroupInstance[] {
  return ids.map((instanceId) => ({ instanceId, lifecycleState: 'InService', protectedFromScaleIn }));
}

describe('idle-metric handler: runner counts', () => {
  const config = runtimeConfig([fleetEntry(), fleetEntry({ name: 'arm' })]);

  test('one listing, three counts per fleet', async () => {
    const world = new World();
    world.runners = [
      runner({ status: 'online', busy: false }),
      runner({ status: 'online', busy: false }),
      runner({ status: 'online', busy: true }),
      runner({ status: 'offline' }),
      runner({ labels: ['fleet-arm'], busy: true }),
    ];
    const report = await createIdleMetricHandler(world.deps(config))();
    expect(world.callsOf('listRunners')).toHaveLength(1);
    expect(report.counts).toEqual({
      linux: { idle: 2, busy: 1, offline: 1, total: 4 },
      arm: { idle: 0, busy: 1, offline: 0, total: 1 },
    });
    expect(world.metrics).toEqual(expect.arrayContaining([
      { name: 'IdleRunners', fleet: 'linux', value: 2 },
      { name: 'BusyRunners', fleet: 'linux', value: 1 },
      { name: 'OfflineRunners', fleet: 'linux', value: 1 },
      { name: 'IdleRunners', fleet: 'arm', value: 0 },
      { name: 'BusyRunners', fleet: 'arm', value: 1 },
    ]));
  });

  test('GitHub failing without a webhook: no counts and no capacity decision (a zero would read as saturated), the error counted', async () => {
    const world = new World();
    world.faults.add('listRunners', () => new GitHubError('rate limited', 'rate-limited', 403));
    const report = await createIdleMetricHandler(world.deps(config))();
    expect(report.ok).toBe(false);
    expect(report.error).toBe('rate limited');
    expect(world.metrics.filter((m) => m.name === 'IdleRunners')).toEqual([]);
    expect(world.metricTotal('GitHubErrors', 'linux')).toBe(1);
    expect(world.metricTotal('GitHubErrors', 'arm')).toBe(1);
    expect(world.callsOf('describeCapacity')).toEqual([]);
    expect(world.metrics.filter((m) => m.name === 'CapacityGap')).toEqual([]);
  });
});

describe('idle-metric handler without a webhook: the capacity controller', () => {
  const linux = fleetEntry({ name: 'linux', idleTarget: 1, directScaleOut: true });
  const config = runtimeConfig([linux]);

  test('a runner to spare: the need is the busy instances + the idle target', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 3, max: 20, instances: [...inService(['i-a', 'i-b'], true), ...inService(['i-c'], false)] });
    world.runners = [
      runner({ name: 'linux-i-a', busy: true }), runner({ name: 'linux-i-b', busy: true }), runner({ name: 'linux-i-c', busy: false }),
    ];
    const report = await createIdleMetricHandler(world.deps(config))();
    expect(report.capacity?.linux).toEqual(expect.objectContaining({ mode: 'steady', need: 3, have: 3, gap: 0 }));
    expect(world.callsOf('setDesiredCapacity')).toEqual([]);
    expect(world.lastMetric('CapacityGap')).toBe(0);
  });

  test('saturated (every instance protected, no idle runner): the need doubles, raised in one call; once runners are idle again it falls back', async () => {
    const world = new World();
    const group = world.group('linux-asg', { desired: 3, max: 20, instances: inService(['i-a', 'i-b', 'i-c'], true) });
    world.runners = ['a', 'b', 'c'].map((id) => runner({ name: `linux-i-${id}`, busy: true }));
    const tick = createIdleMetricHandler(world.deps(config));

    const first = await tick();
    // 2 x 3 busy + 1 idle target
    expect(first.capacity?.linux).toEqual(expect.objectContaining({ mode: 'saturated', need: 7, have: 3, gap: 4, raisedTo: 7 }));
    expect(world.callsOf('setDesiredCapacity').map((c) => c.args)).toEqual([['linux-asg', 7]]);
    expect(world.lastMetric('CapacityGap')).toBe(0);

    // Unchanged facts a minute later: nothing more is asked for.
    await tick();
    expect(world.callsOf('setDesiredCapacity')).toHaveLength(1);
    expect(world.lastMetric('CapacityGap')).toBe(0);

    // The four new instances' runners come online idle: not saturated any more, the excess goes to the scale-in alarm.
    group.instances.push(...inService(['i-d', 'i-e', 'i-f', 'i-g'], false));
    world.runners.push(...['d', 'e', 'f', 'g'].map((id) => runner({ name: `linux-i-${id}`, busy: false })));
    const third = await tick();
    expect(third.capacity?.linux).toEqual(expect.objectContaining({ mode: 'steady', need: 4, have: 7, gap: -3 }));
    expect(world.callsOf('setDesiredCapacity')).toHaveLength(1);
    expect(world.lastMetric('CapacityGap')).toBe(-3);
  });

  test('a runner whose instance is protected is busy, whatever GitHub\'s (lagging) busy flag says', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 1, max: 20, instances: inService(['i-a'], true) });
    world.runners = [runner({ name: 'linux-i-a', busy: false })];
    const report = await createIdleMetricHandler(world.deps(config))();
    // GitHub's own count still says idle; the controller does not take it: 2 x 1 busy + 1.
    expect(world.lastMetric('IdleRunners')).toBe(1);
    expect(report.capacity?.linux).toEqual(expect.objectContaining({ mode: 'saturated', need: 3, gap: 2 }));
  });

  test('the same runner on an unprotected instance is idle: no scale-out', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 1, max: 20, instances: inService(['i-a'], false) });
    world.runners = [runner({ name: 'linux-i-a', busy: false })];
    const report = await createIdleMetricHandler(world.deps(config))();
    expect(report.capacity?.linux).toEqual(expect.objectContaining({ mode: 'steady', need: 1, gap: 0 }));
  });

  test('one fleet\'s group unreadable: that fleet is skipped, the others are still evaluated', async () => {
    const world = new World();
    world.faults.add('describeCapacity', () => new Error('Throttling'));
    const report = await createIdleMetricHandler(world.deps(runtimeConfig([linux, fleetEntry({ name: 'arm', idleTarget: 2 })])))();
    expect(report.ok).toBe(true);
    expect(Object.keys(report.capacity ?? {})).toEqual(['arm']);
    expect(world.lastMetric('CapacityGap', 'linux')).toBeUndefined();
    expect(world.lastMetric('CapacityGap', 'arm')).toBe(2);
    expect(world.logs.some((l) => l.level === 'warn' && l.attributes?.fleet === 'linux')).toBe(true);
  });
});

const webhookConfig: FleetRuntimeConfig = {
  ...runtimeConfig([
    fleetEntry({ name: 'linux', labels: ['linux', 'fleet-linux'], idleTarget: 2 }),
    fleetEntry({ name: 'arm', labels: ['linux', 'fleet-arm'], architecture: 'arm64', idleTarget: 0 }),
  ]),
  webhook: { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook', maxBodyBytes: 65536 },
};
const directWebhookConfig: FleetRuntimeConfig = { ...webhookConfig, fleets: webhookConfig.fleets.map((f) => ({ ...f, directScaleOut: true })) };

describe('idle-metric handler with a webhook: reconciliation and the controller', () => {
  test('corrects queued jobs whose deliveries were lost, then runs each fleet\'s controller with the corrected queue', async () => {
    const world = new World();
    world.runners = [runner({ status: 'online', busy: false, labels: ['fleet-linux'] })];
    world.group('linux-asg', { desired: 1, max: 20 });
    const record = (jobId: number, queuedAt: string) => world.jobRecords.set(jobId, {
      jobId, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt, updatedAt: queuedAt,
    });
    record(1, '2026-11-24T09:52:00Z'); // 8 minutes old: due; its in_progress delivery was lost
    record(2, '2026-11-24T09:58:00Z'); // 2 minutes old: due; cancelled meanwhile
    record(3, '2026-11-24T09:56:00Z'); // 4 minutes old: due; really still queued
    record(4, '2026-11-24T10:00:20Z'); // too young to check
    record(5, '2026-11-24T09:55:00Z'); // 5 minutes old: checked at 4, next at 8
    world.jobStatuses.set(1, 'in_progress');
    world.jobStatuses.set(2, 'completed');

    const report = await createIdleMetricHandler(world.deps(webhookConfig, NOW))();

    expect(report.reconciled).toBe(2);
    expect(world.callsOf('getJobStatus').map((c) => c.args[1])).toEqual([1, 3, 2]);
    expect(world.jobRecords.get(1)?.status).toBe('in_progress');
    expect(world.jobRecords.get(2)?.status).toBe('completed');
    // The queue is read once per fleet, for the reconciliation; the controller takes the corrected count.
    expect(world.callsOf('queuedJobs').map((c) => c.args[0])).toEqual(['linux', 'arm']);
    // 3 queued (3, 4 and 5) + 0 busy + target 2 - desired 1
    expect(world.lastMetric('QueuedJobs')).toBe(3);
    expect(world.lastMetric('CapacityNeeded')).toBe(5);
    expect(world.lastMetric('CapacityGap')).toBe(4);
    expect(world.lastMetric('CapacityGap', 'arm')).toBe(0);
    expect(report.capacity).toEqual({
      linux: expect.objectContaining({ need: 5, have: 1, gap: 4, mode: 'demand' }),
      arm: expect.objectContaining({ need: 0, have: 0, gap: 0, mode: 'demand' }),
    });
  });

  test('reconciliation failing does not stop the counts or the controller (each fleet reads its own queue then)', async () => {
    const world = new World();
    world.jobRecords.set(1, { jobId: 1, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt: '2026-11-24T09:56:00Z', updatedAt: '' });
    world.faults.add('getJobStatus', () => new Error('boom'));
    const report = await createIdleMetricHandler(world.deps(webhookConfig, NOW))();
    expect(report.ok).toBe(true);
    expect(world.lastMetric('IdleRunners')).toBe(0);
    // 1 queued + target 2 - desired 0
    expect(world.lastMetric('CapacityGap')).toBe(3);
    expect(world.logs.some((l) => l.level === 'warn' && /could not be reconciled/.test(l.message))).toBe(true);
  });

  test('GitHub failing: no runner counts, but the controller still runs on the job table and the group', async () => {
    const world = new World();
    world.faults.add('listRunners', () => new Error('GitHub is down'));
    world.group('linux-asg', { desired: 0, max: 20, instances: [{ instanceId: 'i-1', lifecycleState: 'InService', protectedFromScaleIn: true }] });
    world.jobRecords.set(1, { jobId: 1, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt: '2026-11-24T10:00:20Z', updatedAt: '' });

    const report = await createIdleMetricHandler(world.deps(directWebhookConfig, NOW))();

    expect(report.ok).toBe(false);
    expect(world.metrics.filter((m) => m.name === 'IdleRunners')).toEqual([]);
    // 1 queued + 1 busy + target 2, raised directly from 0
    expect(world.callsOf('setDesiredCapacity').map((c) => c.args)).toEqual([['linux-asg', 4]]);
    expect(world.lastMetric('CapacityGap')).toBe(0);
    expect(report.capacity?.linux).toEqual(expect.objectContaining({ need: 4, raisedTo: 4 }));
  });

  test('without a webhook the job store is never touched', async () => {
    const world = new World();
    await createIdleMetricHandler(world.deps(runtimeConfig(), NOW))();
    expect(world.calls.filter((c) => c.port === 'jobs')).toEqual([]);
    expect(world.lastMetric('QueuedJobs')).toBeUndefined();
  });
});

describe('idle-metric handler with a webhook: jobs GitHub will not show', () => {
  const queuedJob = (jobId: number, queuedAt: string) => ({ jobId, fleet: 'linux', status: 'queued' as const, repository: 'acme/app', queuedAt, updatedAt: queuedAt });

  test('a job lookup refused (403, or a 404 that may be one) never marks the job completed: it keeps counting, is counted, and the fix is logged once', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 0, max: 20 });
    world.jobRecords.set(1, queuedJob(1, '2026-11-24T09:58:00Z'));
    world.jobStatuses.set(1, 'not-found');
    const tick = createIdleMetricHandler(world.deps(webhookConfig, NOW));

    const first = await tick();
    const second = await tick();

    expect(world.jobRecords.get(1)?.status).toBe('queued');
    expect(world.callsOf('putJob')).toEqual([]);
    expect([first.reconciled, first.unreadable, second.unreadable]).toEqual([0, 1, 1]);
    // 1 queued + target 2 - desired 0, on both ticks: the fleet still scales for the job.
    expect(world.metrics.filter((m) => m.name === 'CapacityNeeded' && m.fleet === 'linux').map((m) => m.value)).toEqual([3, 3]);
    expect(world.metricTotal('JobLookupDenied', 'linux')).toBe(2);
    const errors = world.logs.filter((l) => l.level === 'error');
    expect(errors).toEqual([expect.objectContaining({
      message: expect.stringContaining('grant the GitHub App the repository permission "Actions: read"'),
      attributes: { jobs: [{ jobId: 1, repository: 'acme/app' }], count: 1 },
    })]);
  });

  test('a job queued longer than GitHub lets one wait is over, without a request', async () => {
    const world = new World();
    world.jobRecords.set(1, queuedJob(1, '2026-11-23T09:40:00Z')); // 24 h 20 min
    world.jobRecords.set(2, queuedJob(2, '2026-11-23T10:00:00Z')); // 24 h: GitHub may still hold it
    const report = await createIdleMetricHandler(world.deps(webhookConfig, NOW))();
    expect(world.jobRecords.get(1)?.status).toBe('completed');
    expect(world.jobRecords.get(2)?.status).toBe('queued');
    expect(world.callsOf('getJobStatus').map((c) => c.args[1])).not.toContain(1);
    expect(report.reconciled).toBe(1);
    expect(world.lastMetric('QueuedJobs')).toBe(1);
  });
});

describe('idle-metric handler with a webhook and a GitHub App: failed deliveries are redelivered', () => {
  const attempt = (id: number, guid: string, statusCode: number, deliveredAt: string, overrides: Partial<HookDelivery> = {}): HookDelivery => ({
    id, guid, statusCode, deliveredAt, redelivery: false, event: 'workflow_job', action: 'queued', ...overrides,
  });

  test('the failed workflow_job deliveries are redelivered, once; delivered, redelivered and other deliveries are left alone', async () => {
    const world = new World();
    world.hookDeliveries.push(
      attempt(1, 'lost', 500, '2026-11-24T09:59:00Z'),
      attempt(2, 'fine', 202, '2026-11-24T09:59:10Z'),
      attempt(3, 'recovered', 0, '2026-11-24T09:58:00Z'),
      attempt(4, 'recovered', 202, '2026-11-24T09:59:00Z', { redelivery: true }),
      attempt(5, 'push', 500, '2026-11-24T09:59:00Z', { event: 'push', action: undefined }),
    );
    const tick = createIdleMetricHandler(world.deps(webhookConfig, NOW));

    const report = await tick();
    await tick();

    expect(report.redelivered).toBe(1);
    expect(world.callsOf('redeliverAppHookDelivery').map((c) => c.args[0])).toEqual([1]);
    expect(world.metricTotal('DeliveriesRedelivered', '(none)')).toBe(1);
    // Back to the maximum age, five pages at most.
    expect(world.callsOf('listAppHookDeliveries')[0].args).toEqual([new Date('2026-11-24T07:00:30Z'), 5]);
  });

  test('bounded: at most maxPerTick a tick, the oldest first; none older than maxAge; a delivery that keeps failing is given up after maxAttempts', async () => {
    const world = new World();
    world.redeliveryStatus = 500;
    for (let i = 0; i < 5; i++) {
      world.hookDeliveries.push(attempt(10 + i, `g${i}`, 502, `2026-11-24T09:5${i}:00Z`));
    }
    world.hookDeliveries.push(attempt(20, 'too-old', 502, '2026-11-24T08:00:00Z'));
    const tick = createIdleMetricHandler(world.deps(webhookConfig, NOW), { redelivery: { maxPerTick: 2, maxAgeSeconds: 3600, maxAttempts: 2 } });

    await tick();
    await tick();
    await tick();
    await tick();

    const asked = world.callsOf('redeliverAppHookDelivery').map((c) => c.args[0]);
    // 2, 2, then the last one; every one failed again, and 2 attempts is the limit: nothing after.
    expect(asked).toEqual([10, 11, 12, 13, 14]);
    expect(world.metricTotal('DeliveriesRedelivered', '(none)')).toBe(5);
  });

  test('the listing failing (the App has no webhook, GitHub down) is counted and logged; the tick goes on', async () => {
    const world = new World();
    world.faults.add('listAppHookDeliveries', () => new GitHubError('GET /app/hook/deliveries answered 404: Not Found', 'not-found', 404));
    world.jobRecords.set(1, { jobId: 1, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt: '2026-11-24T10:00:20Z', updatedAt: '' });
    const report = await createIdleMetricHandler(world.deps(webhookConfig, NOW))();
    expect(report.ok).toBe(true);
    expect(report.redelivered).toBeUndefined();
    expect(world.metricTotal('RedeliveryFailures', '(none)')).toBe(1);
    expect(world.lastMetric('QueuedJobs')).toBe(1);
    expect(world.logs.some((l) => l.level === 'warn' && /deliveries could not be listed/.test(l.message))).toBe(true);
  });

  test('a personal access token, or no webhook: the App\'s deliveries are never read', async () => {
    const world = new World();
    await createIdleMetricHandler(world.deps({ ...webhookConfig, github: { ...webhookConfig.github, auth: 'token' } }, NOW))();
    await createIdleMetricHandler(world.deps(runtimeConfig(), NOW))();
    expect(world.callsOf('listAppHookDeliveries')).toEqual([]);
  });
});
