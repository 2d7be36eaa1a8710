import { createDeregistrationHandler, SweepReport, TerminationReport } from '../../../lambda/handlers/deregistration';
import { GitHubError } from '../../../lambda/ports';
import { fleetEntry, lifecycleEvent, runner, runtimeConfig } from '../fixtures';
import { World } from './fakes';

const ID = 'i-0123456789abcdef0';
const SECRET = `github-runner-fleet/linux/${ID}`;
const scheduled = { 'detail-type': 'Scheduled Event' as const, 'source': 'aws.events' };

function withRegisteredRunner(overrides = {}): World {
  const world = new World();
  world.runners = [runner({ id: 5, name: `linux-${ID}`, ...overrides })];
  world.secrets.set(SECRET, { name: SECRET, instanceId: ID, instanceArn: 'arn', value: '{}', createdAt: '2026-11-24T09:00:00Z' });
  return world;
}

describe('deregistration handler: terminate events', () => {
  test('no runner at GitHub (an ephemeral runner after its job): deletes the secret and continues at once', async () => {
    const world = new World();
    world.secrets.set(SECRET, { name: SECRET, instanceId: ID, instanceArn: 'arn', value: '{}', createdAt: '2026-11-24T09:00:00Z' });
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('complete');
    expect(world.order()).toEqual(['findRunnerByName', 'completeLifecycleAction', 'deleteInstanceSecret']);
    expect(world.secrets.size).toBe(0);
    expect(world.completed).toEqual([{ action: expect.objectContaining({ instanceId: ID, hookName: 'github-runner-fleet-terminate' }), result: 'CONTINUE' }]);
    expect(world.metricTotal('Deregistrations')).toBe(1);
  });

  test.each([
    ['idle', { busy: false }],
    ['busy', { busy: true }],
    ['offline but flagged busy', { status: 'offline' as const, busy: true }],
  ])('an online runner (%s) is never deleted from here: heartbeat, no completion, secret kept', async (_name, overrides) => {
    const world = withRegisteredRunner(overrides);
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('wait-for-instance');
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.heartbeats).toHaveLength(1);
    expect(world.completed).toEqual([]);
    expect(world.secrets.has(SECRET)).toBe(true);
  });

  test('returning to the warm pool: the same, the instance retires its runner', async () => {
    const world = withRegisteredRunner();
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate', origin: 'AutoScalingGroup', destination: 'WarmPool' })) as TerminationReport;
    expect(report.decision).toBe('wait-for-instance');
    expect(world.runners).toHaveLength(1);
  });

  test('an offline runner: left to the instance (it completes within seconds) or to the hook timeout; nothing deleted', async () => {
    const world = withRegisteredRunner({ status: 'offline', busy: false });
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('leave-to-instance');
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.heartbeats).toEqual([]);
    expect(world.completed).toEqual([]);
  });

  test('a warm instance that never served is released without asking GitHub', async () => {
    const world = new World();
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate', origin: 'WarmPool', destination: 'EC2' })) as TerminationReport;
    expect(report.decision).toBe('released-warm');
    expect(world.calls.filter((c) => c.port === 'github')).toEqual([]);
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('after the drain timeout an online runner no longer holds the instance', async () => {
    const world = withRegisteredRunner({ busy: true });
    const config = runtimeConfig([fleetEntry({ drainTimeoutSeconds: 60 })]);
    const report = await createDeregistrationHandler(world.deps(config, new Date('2026-11-24T10:05:00Z')))(
      lifecycleEvent({ type: 'terminate', time: '2026-11-24T10:00:00Z' })) as TerminationReport;
    expect(report.decision).toBe('complete-drain-timeout');
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
    expect(world.metricTotal('Deregistrations')).toBe(0);
  });

  test.each([
    ['a 503', () => new GitHubError('Service Unavailable', 'server', 503)],
    ['bad credentials', () => new GitHubError('Bad credentials', 'auth', 401)],
  ])('GitHub failing (%s): no runner deleted, no instance let go blindly; the instance decides; counted', async (_name, error) => {
    const world = withRegisteredRunner();
    world.faults.add('findRunnerByName', error);
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('leave-to-instance');
    expect(world.completed).toEqual([]);
    expect(world.runners).toHaveLength(1);
    expect(world.metricTotal('DeregistrationFailures')).toBe(1);
    expect(world.metricTotal('GitHubErrors')).toBe(1);
  });

  test('a failing secret deletion does not stop the completion', async () => {
    const world = new World();
    world.faults.add('deleteInstanceSecret', () => new Error('AccessDenied'));
    await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' }));
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('a redelivered event is harmless', async () => {
    const world = new World();
    const handler = createDeregistrationHandler(world.deps());
    await handler(lifecycleEvent({ type: 'terminate' }));
    const second = await handler(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(second.decision).toBe('complete');
    expect(world.completed).toHaveLength(1);
  });
});

describe('deregistration handler: the sweep', () => {
  const twoFleets = runtimeConfig([fleetEntry(), fleetEntry({ name: 'arm' })]);

  test('lists runners once for all fleets', async () => {
    const world = new World();
    const report = await createDeregistrationHandler(world.deps(twoFleets))(scheduled) as SweepReport;
    expect(world.callsOf('listRunners')).toHaveLength(1);
    expect(world.callsOf('listGroupInstances').map((c) => c.args[0])).toEqual(['linux-asg', 'arm-asg']);
    expect(report.fleets.map((f) => f.ok)).toEqual([true, true]);
  });

  test('removes orphans but never a busy runner', async () => {
    const world = new World();
    world.runners = [
      runner({ id: 1, name: 'linux-i-0aaaaaaaaaaaaaaaa' }),
      runner({ id: 2, name: 'linux-i-0bbbbbbbbbbbbbbbb', busy: true }),
      runner({ id: 3, name: `linux-${ID}` }),
    ];
    world.instances = [{ instanceId: ID, lifecycleState: 'InService' }];
    world.secrets.set('github-runner-fleet/linux/i-0aaaaaaaaaaaaaaaa', {
      name: 'github-runner-fleet/linux/i-0aaaaaaaaaaaaaaaa', instanceId: 'i-0aaaaaaaaaaaaaaaa', instanceArn: 'a', value: '{}', createdAt: '2026-11-24T08:00:00Z',
    });
    const report = await createDeregistrationHandler(world.deps())(scheduled) as SweepReport;
    expect(world.runners.map((r) => r.id)).toEqual([2, 3]);
    expect(world.secrets.size).toBe(0);
    expect(report.fleets[0]).toMatchObject({ runnersDeleted: 1, secretsDeleted: 1 });
    expect(world.metricTotal('OrphansRemoved')).toBe(2);
  });

  test('re-checks draining instances: completes once their runner is gone, holds those still online', async () => {
    const world = withRegisteredRunner({ busy: false });
    world.instances = [{ instanceId: ID, lifecycleState: 'Terminating:Wait' }, { instanceId: 'i-0bbbbbbbbbbbbbbbb', lifecycleState: 'Terminating:Wait' }];
    world.runners.push(runner({ id: 6, name: 'linux-i-0aaaaaaaaaaaaaaaa' })); // another instance's runner: not this one's
    world.runners = world.runners.filter((r) => r.id !== 5);
    world.runners.push(runner({ id: 7, name: 'linux-i-0bbbbbbbbbbbbbbbb', busy: true }));
    const report = await createDeregistrationHandler(world.deps())(scheduled) as SweepReport;
    expect(report.fleets[0].drained).toBe(1);
    expect(world.completed).toEqual([{ action: expect.objectContaining({ instanceId: ID, hookName: 'github-runner-fleet-terminate' }), result: 'CONTINUE' }]);
    expect(world.completed[0].action.token).toBeUndefined(); // completed by instance id: the sweep has no token
    expect(world.heartbeats.map((h) => h.instanceId)).toEqual(['i-0bbbbbbbbbbbbbbbb']);
    expect(world.runners.map((r) => r.id)).toContain(7);
  });

  test('keeps a draining instance while its runner is busy, within the drain timeout', async () => {
    const world = withRegisteredRunner({ busy: true });
    world.instances = [{ instanceId: ID, lifecycleState: 'Terminating:Wait', terminatingSince: '2026-11-24T10:00:00Z' }];
    await createDeregistrationHandler(world.deps())(scheduled);
    expect(world.heartbeats).toHaveLength(1);
    expect(world.completed).toEqual([]);
  });

  test('lets a draining instance go after the drain timeout', async () => {
    const world = withRegisteredRunner({ busy: true });
    world.instances = [{ instanceId: ID, lifecycleState: 'Terminating:Wait', terminatingSince: '2026-11-24T06:00:00Z' }];
    await createDeregistrationHandler(world.deps())(scheduled);
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('one fleet failing does not stop the others', async () => {
    const world = new World();
    world.faults.add('listGroupInstances', () => new Error('Throttling'));
    const report = await createDeregistrationHandler(world.deps(twoFleets))(scheduled) as SweepReport;
    expect(report.fleets.map((f) => [f.fleet, f.ok])).toEqual([['linux', false], ['arm', true]]);
  });

  test('GitHub down: every fleet reports the failure, nothing is deleted', async () => {
    const world = withRegisteredRunner();
    world.faults.add('listRunners', () => new GitHubError('down', 'server', 502));
    const report = await createDeregistrationHandler(world.deps(twoFleets))(scheduled) as SweepReport;
    expect(report.fleets.every((f) => !f.ok)).toBe(true);
    expect(world.secrets.size).toBe(1);
    expect(world.callsOf('deleteRunner')).toEqual([]);
  });
});

describe('deregistration handler: spot interruption warnings', () => {
  const warning = (instanceId?: string) => ({
    'detail-type': 'EC2 Spot Instance Interruption Warning' as const,
    'detail': { 'instance-id': instanceId, 'instance-action': 'terminate' },
  });

  test('an instance of a fleet: counted for that fleet and logged; nothing else done', async () => {
    const world = new World();
    world.instanceGroups.set(ID, 'linux-asg');
    const report = await createDeregistrationHandler(world.deps())(warning(ID));
    expect(report).toEqual({ type: 'spot-interruption', instanceId: ID, fleet: 'linux' });
    expect(world.metricTotal('SpotInterruptions')).toBe(1);
    expect(world.logs.some((l) => l.level === 'warn' && l.attributes?.instanceId === ID)).toBe(true);
    expect(world.completed).toEqual([]);
    expect(world.calls.filter((c) => c.port === 'github')).toEqual([]);
  });

  test('an instance of another group, or of none, is ignored', async () => {
    const world = new World();
    world.instanceGroups.set('i-0aaaaaaaaaaaaaaaa', 'someone-elses-asg');
    const handler = createDeregistrationHandler(world.deps());
    expect(await handler(warning('i-0aaaaaaaaaaaaaaaa'))).toEqual({ type: 'spot-interruption', instanceId: 'i-0aaaaaaaaaaaaaaaa' });
    expect(await handler(warning('i-0bbbbbbbbbbbbbbbb'))).toEqual({ type: 'spot-interruption', instanceId: 'i-0bbbbbbbbbbbbbbbb' });
    expect(await handler(warning(undefined))).toEqual({ type: 'spot-interruption' });
    expect(world.metrics).toEqual([]);
  });
});

describe('deregistration handler: duplicated, reordered and late terminate events', () => {
  test('the same terminate event twice (no runner): completed and counted once, the secret deleted once', async () => {
    const world = new World();
    world.secrets.set(SECRET, { name: SECRET, instanceId: ID, instanceArn: 'arn', value: '{}', createdAt: '2026-11-24T09:00:00Z' });
    const handler = createDeregistrationHandler(world.deps());

    const first = await handler(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    const again = await handler(lifecycleEvent({ type: 'terminate' })) as TerminationReport;

    expect(first).toMatchObject({ decision: 'complete', completed: true });
    expect(again).toMatchObject({ decision: 'complete', completed: false });
    expect(world.completed).toHaveLength(1);
    expect(world.callsOf('deleteInstanceSecret')).toHaveLength(1);
    expect(world.metricTotal('Deregistrations')).toBe(1);
  });

  test('a late terminate event for an action that is gone (the instance is back, launching with a fresh secret): the secret is kept', async () => {
    const world = new World();
    world.secrets.set(SECRET, { name: SECRET, instanceId: ID, instanceArn: 'arn', value: '{"fresh":true}', createdAt: '2026-11-24T10:00:00Z' });
    world.missingActions.add(`github-runner-fleet-terminate/${ID}`);

    const report = await createDeregistrationHandler(world.deps())(
      lifecycleEvent({ type: 'terminate', origin: 'AutoScalingGroup', destination: 'WarmPool' })) as TerminationReport;

    expect(report.completed).toBe(false);
    expect(world.secrets.has(SECRET)).toBe(true);
    expect(world.metricTotal('Deregistrations')).toBe(0);
  });

  test('a duplicate while the runner is online: a heartbeat again, never a deletion', async () => {
    const world = withRegisteredRunner();
    const handler = createDeregistrationHandler(world.deps());
    await handler(lifecycleEvent({ type: 'terminate' }));
    await handler(lifecycleEvent({ type: 'terminate' }));
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.completed).toEqual([]);
    expect(world.secrets.has(SECRET)).toBe(true);
    expect(world.heartbeats).toHaveLength(2);
  });

  test('a warm instance released twice: the secret is deleted and the action completed once', async () => {
    const world = new World();
    const handler = createDeregistrationHandler(world.deps());
    const event = lifecycleEvent({ type: 'terminate', origin: 'WarmPool', destination: 'EC2' });
    const first = await handler(event) as TerminationReport;
    const again = await handler(event) as TerminationReport;
    expect([first.completed, again.completed]).toEqual([true, false]);
    expect(world.callsOf('deleteInstanceSecret')).toHaveLength(1);
  });

  test('reordered: a terminate event after the runner registered for a later launch is online: held, not deleted', async () => {
    const world = withRegisteredRunner({ status: 'online' });
    world.missingActions.add(`github-runner-fleet-terminate/${ID}`);
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('wait-for-instance');
    expect(world.callsOf('deleteRunner')).toEqual([]);
    expect(world.secrets.has(SECRET)).toBe(true);
  });
});
