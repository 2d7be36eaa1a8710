import { createIdleMetricHandler } from '../../../lambda/handlers/idle-metric';
import { createWebhookHandler, FLEET_STATE_MAX_AGE_SECONDS } from '../../../lambda/handlers/webhook';
import type { FleetRuntimeConfig } from '../../../src/contract';
import { fleetEntry, runner, runtimeConfig, workflowJobPayload } from '../fixtures';
import { World } from './fakes';

const NOW = new Date('2026-11-24T10:00:30Z');
const config: FleetRuntimeConfig = {
  ...runtimeConfig([
    fleetEntry({ name: 'linux', labels: ['linux', 'fleet-linux'], idleTarget: 2 }),
    fleetEntry({ name: 'arm', labels: ['linux', 'fleet-arm'], architecture: 'arm64', idleTarget: 0 }),
  ]),
  webhook: { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook', maxBodyBytes: 65536 },
};

let deliveries = 0;
function delivery(body: string, overrides: { event?: string; signature?: string; id?: string; method?: string } = {}) {
  return {
    method: overrides.method ?? 'POST',
    headers: {
      'x-hub-signature-256': overrides.signature ?? 'sha256=good',
      'x-github-event': overrides.event ?? 'workflow_job',
      'x-github-delivery': overrides.id ?? `delivery-${++deliveries}`,
    },
    body,
  };
}

function handler(world: World, now = NOW) {
  const { jobs, verifier, metricsPort: metrics, logger } = world;
  return createWebhookHandler({ config, jobs, verifier, metrics, logger, now: () => now });
}

describe('webhook handler: refusals', () => {
  test.each([
    ['a bad signature', delivery(workflowJobPayload(), { signature: 'sha256=bad' }), 401],
    ['no signature', { ...delivery(workflowJobPayload()), headers: { 'x-github-event': 'workflow_job', 'x-github-delivery': 'd' } }, 401],
    ['an oversized body', delivery(' '.repeat(65537)), 413],
    ['a GET', delivery(workflowJobPayload(), { method: 'GET' }), 405],
    ['malformed JSON', delivery('{"action": "queued", '), 400],
    ['no delivery id', { ...delivery(workflowJobPayload()), headers: { 'x-hub-signature-256': 'sha256=good', 'x-github-event': 'workflow_job' } }, 400],
  ])('%s: %s, nothing stored, the refusal counted', async (_name, request, statusCode) => {
    const world = new World();
    const answer = await handler(world)(request);
    expect(answer.statusCode).toBe(statusCode);
    expect(world.calls.filter((c) => c.port === 'jobs')).toEqual([]);
    expect(world.metricTotal('WebhookRejected', '(none)')).toBe(1);
  });

  test('an unverified request is never parsed or acted on, whatever it says', async () => {
    const world = new World();
    await handler(world)(delivery('not even json', { signature: 'sha256=bad' }));
    expect(world.calls.map((c) => c.method)).toEqual(['verify']);
  });

  test('the webhook secret unreadable: 500, nothing acted on', async () => {
    const world = new World();
    world.faults.add('verify', () => new Error('AccessDeniedException'));
    const answer = await handler(world)(delivery(workflowJobPayload()));
    expect(answer.statusCode).toBe(500);
    expect(world.calls.filter((c) => c.port === 'jobs')).toEqual([]);
  });

  test('other events and actions are acknowledged and ignored; ping answers pong', async () => {
    const world = new World();
    expect(await handler(world)(delivery('{}', { event: 'push' }))).toEqual({ statusCode: 202, message: 'event "push" ignored' });
    expect(await handler(world)(delivery('{}', { event: 'ping' }))).toEqual({ statusCode: 200, message: 'pong' });
    expect((await handler(world)(delivery(workflowJobPayload({ action: 'requested' })))).statusCode).toBe(202);
    expect(world.jobRecords.size).toBe(0);
  });
});

describe('webhook handler: jobs', () => {
  test('a queued job is routed, recorded and raises its fleet\'s demand at once (high resolution)', async () => {
    const world = new World();
    world.fleetStates.set('linux', { idle: 2, measuredAt: '2026-11-24T10:00:00Z' });
    const answer = await handler(world)(delivery(workflowJobPayload({ id: 7, labels: ['self-hosted', 'linux', 'x64'] })));
    expect(answer).toEqual({ statusCode: 202, message: 'job 7 queued: fleet linux' });
    expect(world.jobRecords.get(7)).toEqual(expect.objectContaining({ fleet: 'linux', status: 'queued', repository: 'acme/app' }));
    // 1 queued + target 2 - 2 idle
    expect(world.metrics.filter((m) => m.fleet === 'linux')).toEqual([
      { name: 'QueuedJobs', fleet: 'linux', value: 1, options: { highResolution: true } },
      { name: 'RunnerDemand', fleet: 'linux', value: 1, options: { highResolution: true } },
    ]);
  });

  test('a burst of 10 queued jobs: the demand reaches 10 + target - idle, one delivery at a time', async () => {
    const world = new World();
    world.fleetStates.set('linux', { idle: 2, measuredAt: '2026-11-24T10:00:00Z' });
    const handle = handler(world);
    for (let id = 1; id <= 10; id++) {
      await handle(delivery(workflowJobPayload({ id })));
    }
    expect(world.lastMetric('QueuedJobs')).toBe(10);
    expect(world.lastMetric('RunnerDemand')).toBe(10);
  });

  test('a stale or missing idle count counts as 0 idle: jobs still bring runners', async () => {
    const world = new World();
    world.fleetStates.set('linux', { idle: 5, measuredAt: new Date(NOW.getTime() - (FLEET_STATE_MAX_AGE_SECONDS + 1) * 1000).toISOString() });
    await handler(world)(delivery(workflowJobPayload({ id: 1 })));
    expect(world.lastMetric('RunnerDemand')).toBe(3);
  });

  test('in_progress: the job leaves the queue, the time to start is published for the fleet that ran it', async () => {
    const world = new World();
    const handle = handler(world);
    // Both fleets can run it and have as many labels: the first declared (linux) gets the demand.
    await handle(delivery(workflowJobPayload({ id: 9, labels: ['linux'] })));
    expect(world.lastMetric('QueuedJobs', 'linux')).toBe(1);
    await handle(delivery(workflowJobPayload({
      id: 9, labels: ['linux'], action: 'in_progress', startedAt: '2026-11-24T10:00:14Z', runnerName: 'arm-i-0123456789abcdef0',
    })));
    expect(world.jobRecords.get(9)).toEqual(expect.objectContaining({ fleet: 'arm', status: 'in_progress' }));
    expect(world.metrics).toContainEqual({ name: 'JobStartSeconds', fleet: 'arm', value: 14, options: { unit: 'Seconds' } });
    // The fleet the labels routed to sees its queue empty again.
    expect(world.lastMetric('QueuedJobs', 'linux')).toBe(0);
  });

  test('a duplicate delivery is dropped: nothing recorded or counted twice', async () => {
    const world = new World();
    const handle = handler(world);
    const body = workflowJobPayload({ id: 5, action: 'in_progress', startedAt: '2026-11-24T10:00:04Z', runnerName: 'linux-i-0123456789abcdef0' });
    await handle(delivery(body, { id: 'same' }));
    const again = await handle(delivery(body, { id: 'same' }));
    expect(again).toEqual({ statusCode: 200, message: 'duplicate delivery ignored' });
    expect(world.metrics.filter((m) => m.name === 'JobStartSeconds')).toHaveLength(1);
    expect(world.callsOf('putJob')).toHaveLength(1);
  });

  test('out of order: a late queued delivery never moves a started job back into the queue', async () => {
    const world = new World();
    const handle = handler(world);
    await handle(delivery(workflowJobPayload({ id: 3, action: 'completed', runnerName: 'linux-i-0123456789abcdef0' })));
    await handle(delivery(workflowJobPayload({ id: 3, labels: ['self-hosted', 'linux', 'x64'] })));
    expect(world.jobRecords.get(3)?.status).toBe('completed');
    expect(world.lastMetric('QueuedJobs')).toBe(0);
  });

  test('a self-hosted job no fleet can run is counted and logged, not recorded', async () => {
    const world = new World();
    const answer = await handler(world)(delivery(workflowJobPayload({ labels: ['self-hosted', 'windows'] })));
    expect(answer.statusCode).toBe(202);
    expect(world.metricTotal('UnroutableJobs', '(none)')).toBe(1);
    expect(world.jobRecords.size).toBe(0);
    expect(world.logs.some((l) => l.level === 'warn' && /no fleet can run/.test(l.message))).toBe(true);
  });

  test('a GitHub-hosted job is ignored silently', async () => {
    const world = new World();
    const answer = await handler(world)(delivery(workflowJobPayload({ labels: ['ubuntu-latest'] })));
    expect(answer.statusCode).toBe(202);
    expect(world.metrics).toEqual([]);
  });

  test('the store failing: 500 (GitHub shows the failed delivery), logged, metrics still flushed', async () => {
    const world = new World();
    world.faults.add('putJob', () => new Error('ProvisionedThroughputExceededException'));
    const answer = await handler(world)(delivery(workflowJobPayload()));
    expect(answer).toEqual({ statusCode: 500, message: 'the delivery could not be processed' });
    expect(world.logs.some((l) => l.level === 'error' && l.message === 'Webhook delivery failed')).toBe(true);
  });
});

describe('idle-metric handler with a webhook: reconciliation and demand', () => {
  test('stores idle counts, corrects queued jobs whose deliveries were lost, publishes demand from the fresh count', async () => {
    const world = new World();
    world.runners = [runner({ status: 'online', busy: false, labels: ['fleet-linux'] })];
    const record = (jobId: number, queuedAt: string) => world.jobRecords.set(jobId, {
      jobId, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt, updatedAt: queuedAt,
    });
    record(1, '2026-11-24T09:52:00Z'); // 8 minutes old: due; its in_progress delivery was lost
    record(2, '2026-11-24T09:58:00Z'); // 2 minutes old: due; GitHub no longer knows it
    record(3, '2026-11-24T09:56:00Z'); // 4 minutes old: due; really still queued
    record(4, '2026-11-24T10:00:20Z'); // too young to check
    record(5, '2026-11-24T09:55:00Z'); // 5 minutes old: checked at 4, next at 8
    world.jobStatuses.set(1, 'in_progress');
    world.jobStatuses.set(2, 'not-found');

    const report = await createIdleMetricHandler(world.deps(config, NOW))();

    expect(report.reconciled).toBe(2);
    expect(world.callsOf('getJobStatus').map((c) => c.args[1])).toEqual([1, 3, 2]);
    expect(world.jobRecords.get(1)?.status).toBe('in_progress');
    expect(world.jobRecords.get(2)?.status).toBe('completed');
    expect(world.fleetStates.get('linux')).toEqual({ idle: 1, measuredAt: NOW.toISOString() });
    // 3 queued (3, 4 and 5) + target 2 - 1 idle
    expect(world.lastMetric('QueuedJobs')).toBe(3);
    expect(world.lastMetric('RunnerDemand')).toBe(4);
    expect(world.lastMetric('RunnerDemand', 'arm')).toBe(0);
  });

  test('reconciliation failing does not stop the counts or the demand', async () => {
    const world = new World();
    world.jobRecords.set(1, { jobId: 1, fleet: 'linux', status: 'queued', repository: 'acme/app', queuedAt: '2026-11-24T09:56:00Z', updatedAt: '' });
    world.faults.add('getJobStatus', () => new Error('boom'));
    const report = await createIdleMetricHandler(world.deps(config, NOW))();
    expect(report.ok).toBe(true);
    expect(world.lastMetric('IdleRunners')).toBe(0);
    expect(world.lastMetric('RunnerDemand')).toBe(3);
  });

  test('without a webhook the job store is never touched', async () => {
    const world = new World();
    await createIdleMetricHandler(world.deps(runtimeConfig(), NOW))();
    expect(world.calls.filter((c) => c.port === 'jobs')).toEqual([]);
    expect(world.lastMetric('RunnerDemand')).toBeUndefined();
  });
});
