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
  test('removes the runner, deletes the secret, then continues', async () => {
    const world = withRegisteredRunner();
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('complete');
    expect(world.order()).toEqual(['findRunnerByName', 'deleteRunner', 'deleteInstanceSecret', 'completeLifecycleAction']);
    expect(world.runners).toEqual([]);
    expect(world.secrets.size).toBe(0);
    expect(world.completed).toEqual([{ action: expect.objectContaining({ instanceId: ID, hookName: 'github-runner-fleet-terminate' }), result: 'CONTINUE' }]);
    expect(world.metricTotal('Deregistrations')).toBe(1);
  });

  test('an ephemeral runner already removed by GitHub: continues at once', async () => {
    const world = new World();
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('complete');
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('returning to the warm pool removes the runner too', async () => {
    const world = withRegisteredRunner();
    await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate', origin: 'AutoScalingGroup', destination: 'WarmPool' }));
    expect(world.runners).toEqual([]);
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('a warm instance that never served is released without asking GitHub', async () => {
    const world = new World();
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate', origin: 'WarmPool', destination: 'EC2' })) as TerminationReport;
    expect(report.decision).toBe('released-warm');
    expect(world.calls.filter((c) => c.port === 'github')).toEqual([]);
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('a busy runner holds its instance: heartbeat, no completion, secret kept', async () => {
    const world = withRegisteredRunner({ busy: true });
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('wait-busy');
    expect(world.heartbeats).toHaveLength(1);
    expect(world.completed).toEqual([]);
    expect(world.secrets.has(SECRET)).toBe(true);
    expect(world.runners).toHaveLength(1);
  });

  test('after the drain timeout a busy runner no longer holds the instance', async () => {
    const world = withRegisteredRunner({ busy: true });
    const config = runtimeConfig([fleetEntry({ drainTimeoutSeconds: 60 })]);
    const report = await createDeregistrationHandler(world.deps(config, new Date('2026-11-24T10:05:00Z')))(
      lifecycleEvent({ type: 'terminate', time: '2026-11-24T10:00:00Z' })) as TerminationReport;
    expect(report.decision).toBe('complete-drain-timeout');
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test.each([
    ['findRunnerByName', () => new GitHubError('Service Unavailable', 'server', 503)],
    ['deleteRunner', () => new GitHubError('timeout', 'network')],
    ['findRunnerByName', () => new GitHubError('Bad credentials', 'auth', 401)],
  ])('GitHub failing in %s never holds the instance: CONTINUE at once, counted', async (method, error) => {
    const world = withRegisteredRunner();
    world.faults.add(method, error);
    const report = await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' })) as TerminationReport;
    expect(report.decision).toBe('complete-github-unavailable');
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
    expect(world.secrets.size).toBe(0);
    expect(world.metricTotal('DeregistrationFailures')).toBe(1);
    expect(world.metricTotal('GitHubErrors')).toBe(1);
  });

  test('a failing secret deletion does not stop the completion', async () => {
    const world = withRegisteredRunner();
    world.faults.add('deleteInstanceSecret', () => new Error('AccessDenied'));
    await createDeregistrationHandler(world.deps())(lifecycleEvent({ type: 'terminate' }));
    expect(world.completed.map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('a redelivered event is harmless', async () => {
    const world = withRegisteredRunner();
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

  test('re-checks draining instances: completes once the runner is free', async () => {
    const world = withRegisteredRunner({ busy: false });
    world.instances = [{ instanceId: ID, lifecycleState: 'Terminating:Wait' }];
    const report = await createDeregistrationHandler(world.deps())(scheduled) as SweepReport;
    expect(report.fleets[0].drained).toBe(1);
    expect(world.completed).toEqual([{ action: expect.objectContaining({ instanceId: ID, hookName: 'github-runner-fleet-terminate' }), result: 'CONTINUE' }]);
    expect(world.completed[0].action.token).toBeUndefined(); // completed by instance id: the sweep has no token
    expect(world.runners).toEqual([]);
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
