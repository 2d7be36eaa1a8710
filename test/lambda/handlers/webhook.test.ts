import { createWebhookHandler } from '../../../lambda/handlers/webhook';
import type { FleetRuntimeConfig } from '../../../src/contract';
import { fleetEntry, runtimeConfig, workflowJobPayload } from '../fixtures';
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

function handler(world: World, now = NOW, withConfig = config, installationId?: number) {
  const { jobs, verifier, metricsPort: metrics, logger, autoScaling } = world;
  return createWebhookHandler({ config: withConfig, jobs, autoScaling, verifier, metrics, logger, now: () => now, installationId });
}

/** The same fleets with the controller's direct path on. */
const directConfig: FleetRuntimeConfig = { ...config, fleets: config.fleets.map((f) => ({ ...f, directScaleOut: true })) };

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
  test('a queued job is routed, recorded, and its fleet\'s capacity gap published at once (high resolution)', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 2, max: 20 });
    const answer = await handler(world)(delivery(workflowJobPayload({ id: 7, labels: ['self-hosted', 'linux', 'x64'] })));
    expect(answer).toEqual({ statusCode: 202, message: 'job 7 queued: fleet linux' });
    expect(world.jobRecords.get(7)).toEqual(expect.objectContaining({ fleet: 'linux', status: 'queued', repository: 'acme/app' }));
    // need = 1 waiting + 0 busy + target 2; have = desired 2; the direct path is off: the gap goes to the alarm.
    expect(world.metrics.filter((m) => m.fleet === 'linux')).toEqual([
      { name: 'QueuedJobs', fleet: 'linux', value: 1, options: { highResolution: true } },
      { name: 'CapacityGap', fleet: 'linux', value: 1, options: { highResolution: true } },
      { name: 'CapacityNeeded', fleet: 'linux', value: 3, options: { highResolution: true } },
    ]);
    expect(world.callsOf('setDesiredCapacity')).toEqual([]);
    expect(world.callsOf('describeCapacity').map((c) => c.args)).toEqual([['linux-asg']]);
  });

  test('direct path: a burst of 10 queued jobs raises the desired capacity to 10 + target, one delivery at a time, and leaves no gap', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 2, max: 20 });
    const handle = handler(world, NOW, directConfig);
    for (let id = 1; id <= 10; id++) {
      await handle(delivery(workflowJobPayload({ id })));
    }
    expect(world.lastMetric('QueuedJobs')).toBe(10);
    expect(world.group('linux-asg').desired).toBe(12);
    // The first delivery finds 1 + 2 = 3 against 2; each next one a single instance more.
    expect(world.callsOf('setDesiredCapacity').map((c) => c.args[1])).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(world.metrics.filter((m) => m.name === 'CapacityGap').map((m) => m.value)).toEqual(Array(10).fill(0));
  });

  test('a redelivered burst (duplicates) changes nothing: no second raise for the same jobs', async () => {
    const world = new World();
    world.group('linux-asg', { desired: 0, max: 20 });
    const handle = handler(world, NOW, directConfig);
    for (const id of [1, 2, 3]) {
      await handle(delivery(workflowJobPayload({ id }), { id: `d-${id}` }));
    }
    for (const id of [1, 2, 3]) {
      await handle(delivery(workflowJobPayload({ id }), { id: `d-${id}` }));
    }
    expect(world.group('linux-asg').desired).toBe(5);
    expect(world.callsOf('setDesiredCapacity')).toHaveLength(3);
  });

  test('a job that starts moves from waiting to busy: the need stays, nothing is raised twice', async () => {
    const world = new World();
    const group = world.group('linux-asg', { desired: 0, max: 20 });
    const handle = handler(world, NOW, directConfig);
    await handle(delivery(workflowJobPayload({ id: 1 })));
    expect(group.desired).toBe(3);
    // The instance launched for it takes the job: its job-started hook protects it from scale-in.
    group.instances = [{ instanceId: 'i-0123456789abcdef0', lifecycleState: 'InService', protectedFromScaleIn: true }];
    await handle(delivery(workflowJobPayload({ id: 1, action: 'in_progress', startedAt: '2026-11-24T10:00:20Z', runnerName: 'linux-i-0123456789abcdef0' })));
    expect(world.lastMetric('QueuedJobs')).toBe(0);
    expect(world.lastMetric('CapacityNeeded')).toBe(3);
    expect(world.lastMetric('CapacityGap')).toBe(0);
    expect(world.callsOf('setDesiredCapacity')).toHaveLength(1);
  });

  test('the group unreadable: the job is still recorded (202), no gap is published, a warning logged', async () => {
    const world = new World();
    world.faults.add('describeCapacity', () => new Error('Rate exceeded'));
    const answer = await handler(world, NOW, directConfig)(delivery(workflowJobPayload({ id: 8 })));
    expect(answer.statusCode).toBe(202);
    expect(world.jobRecords.get(8)?.status).toBe('queued');
    expect(world.lastMetric('QueuedJobs')).toBe(1);
    expect(world.lastMetric('CapacityGap')).toBeUndefined();
    expect(world.callsOf('setDesiredCapacity')).toEqual([]);
    expect(world.logs.some((l) => l.level === 'warn' && /could not be read/.test(l.message))).toBe(true);
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
    // The fleet the labels routed to sees its queue empty again, and both fleets' controllers ran.
    expect(world.lastMetric('QueuedJobs', 'linux')).toBe(0);
    expect(world.callsOf('describeCapacity').map((c) => c.args[0])).toEqual(['linux-asg', 'arm-asg', 'linux-asg']);
  });

  test('a duplicate delivery is dropped: nothing recorded or counted twice', async () => {
    const world = new World();
    const handle = handler(world);
    const body = workflowJobPayload({ id: 5, action: 'in_progress', startedAt: '2026-11-24T10:00:04Z', runnerName: 'linux-i-0123456789abcdef0' });
    await handle(delivery(body, { id: 'same' }));
    const recorded = world.jobRecords.get(5);
    const again = await handle(delivery(body, { id: 'same' }));
    expect(again).toEqual({ statusCode: 200, message: 'duplicate delivery ignored' });
    expect(world.metrics.filter((m) => m.name === 'JobStartSeconds')).toHaveLength(1);
    // The job is written first (a conditional write that changes nothing the second time), then claimed.
    expect(world.jobRecords.get(5)).toBe(recorded);
    expect(world.callsOf('describeCapacity')).toHaveLength(1);
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

describe('webhook handler: a delivery recorded exactly once under failed writes and redeliveries', () => {
  test('the job write fails: 500 (GitHub records a failed delivery), nothing claimed; the redelivery of that very delivery is recorded', async () => {
    const world = new World();
    world.faults.add('putJob', () => new Error('ProvisionedThroughputExceededException'));
    const handle = handler(world);
    const request = delivery(workflowJobPayload({ id: 61 }), { id: 'lost-once' });

    const first = await handle(request);
    const redelivered = await handle(request);

    expect(first.statusCode).toBe(500);
    expect(redelivered).toEqual({ statusCode: 202, message: 'job 61 queued: fleet linux' });
    expect(world.jobRecords.get(61)).toEqual(expect.objectContaining({ status: 'queued', fleet: 'linux' }));
    expect(world.lastMetric('QueuedJobs')).toBe(1);
    // A third attempt is the duplicate.
    expect(await handle(request)).toEqual({ statusCode: 200, message: 'duplicate delivery ignored' });
  });

  test('the claim fails after the job was written: 500; the redelivery finds the job written, counts its start once, and claims it', async () => {
    const world = new World();
    world.faults.add('claimDelivery', () => new Error('RequestTimeout'));
    const handle = handler(world);
    const request = delivery(workflowJobPayload({
      id: 62, action: 'in_progress', startedAt: '2026-11-24T10:00:07Z', runnerName: 'linux-i-0123456789abcdef0',
    }), { id: 'claim-lost' });

    expect((await handle(request)).statusCode).toBe(500);
    expect((await handle(request)).statusCode).toBe(202);

    expect(world.jobRecords.get(62)?.status).toBe('in_progress');
    expect(world.metrics.filter((m) => m.name === 'JobStartSeconds')).toEqual([
      { name: 'JobStartSeconds', fleet: 'linux', value: 7, options: { unit: 'Seconds' } },
    ]);
    expect(world.deliveries.has('claim-lost')).toBe(true);
  });
});

describe('webhook handler: only deliveries for the connection\'s scope are acted on', () => {
  const repositoryConfig: FleetRuntimeConfig = { ...config, github: { ...config.github, scope: 'repository', owner: 'acme', repo: 'app' } };
  const enterpriseConfig: FleetRuntimeConfig = { ...config, github: { ...config.github, scope: 'enterprise', owner: 'acme-corp', auth: 'token' } };

  test.each([
    ['another organization (a GitHub App installed on two)', config, { organization: 'globex', repository: 'globex/app', installationId: null }, undefined],
    ['an organization that is ours but a repository of another owner', config, { organization: null, repository: 'globex/app', installationId: null }, undefined],
    ['another repository of the organization, for a repository connection', repositoryConfig, { repository: 'acme/other' }, undefined],
    ['another enterprise', enterpriseConfig, { enterprise: 'initech' }, undefined],
    ['no enterprise at all, for an enterprise connection', enterpriseConfig, {}, undefined],
    ['another installation of the App', config, { installationId: 9999 }, 7890],
  ])('%s: answered 202, not recorded, no capacity change, counted', async (_name, withConfig, payload, installationId) => {
    const world = new World();
    world.group('linux-asg', { desired: 0, max: 20 });
    const answer = await handler(world, NOW, { ...withConfig, fleets: directConfig.fleets }, installationId)(
      delivery(workflowJobPayload({ id: 71, ...payload })),
    );
    expect(answer.statusCode).toBe(202);
    expect(answer.message).toMatch(/^not for this connection: /);
    expect(world.calls.filter((c) => c.port === 'jobs' || c.port === 'autoScaling')).toEqual([]);
    expect(world.metricTotal('ForeignDeliveries', '(none)')).toBe(1);
    expect(world.metrics.filter((m) => m.name !== 'ForeignDeliveries')).toEqual([]);
    expect(world.logs).toEqual([expect.objectContaining({ level: 'warn', message: 'A delivery for another scope: not acted on', attributes: expect.objectContaining({ jobId: 71 }) })]);
  });

  test.each([
    ['the organization, whatever its case', config, { organization: 'ACME', repository: 'Acme/app' }, undefined],
    ['the repository of a repository connection', repositoryConfig, { repository: 'acme/App' }, undefined],
    ['the enterprise of an enterprise connection', enterpriseConfig, { enterprise: 'acme-corp', repository: 'any-org/app', organization: 'any-org' }, undefined],
    ['the App\'s installation', config, { installationId: 7890 }, 7890],
    ['an organization webhook (no installation) while the installation is known', config, { installationId: null }, 7890],
  ])('%s: acted on', async (_name, withConfig, payload, installationId) => {
    const world = new World();
    const answer = await handler(world, NOW, withConfig, installationId)(delivery(workflowJobPayload({ id: 72, ...payload })));
    expect(answer).toEqual({ statusCode: 202, message: 'job 72 queued: fleet linux' });
    expect(world.jobRecords.get(72)?.status).toBe('queued');
    expect(world.metricTotal('ForeignDeliveries', '(none)')).toBe(0);
  });
});
