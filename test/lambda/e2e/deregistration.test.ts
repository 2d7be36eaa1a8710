/**
 * The deregistration function (terminate events and the scheduled sweep) end to end: the real entry
 * point and adapters, Octokit over HTTP against the fake GitHub, AWS through aws-sdk-client-mock.
 */
import { runnerNameFor } from '../../../src/contract';
import { FakeGitHubServer } from '../../fixtures/fake-github-server';
import { fleetEntry, lifecycleEvent, runtimeConfig } from '../fixtures';
import { FAST, lambdaContext, LoadedFunction, loadFunction, OutputCapture, useFakeGitHub } from './harness';

const INSTANCE = 'i-0123456789abcdef0';
const RUNNER = runnerNameFor('linux', INSTANCE);
const PREFIX = 'github-runner-fleet/linux/';
const SCHEDULED = { 'detail-type': 'Scheduled Event', 'source': 'aws.events' };

let server: FakeGitHubServer;
let output: OutputCapture;
useFakeGitHub((s, o) => {
  server = s;
  output = o;
});

function load(entry: 'registration' | 'deregistration', fast = false): LoadedFunction {
  return loadFunction(entry, runtimeConfig([fleetEntry()], server.url), () => server.appCredentials(), fast ? FAST : undefined);
}

function completions(fn: LoadedFunction): Array<Record<string, unknown>> {
  return fn.autoScaling.commandCalls(fn.as.CompleteLifecycleActionCommand).map((c) => ({ ...c.args[0].input }));
}

function deletedSecrets(fn: LoadedFunction): string[] {
  return fn.secrets.commandCalls(fn.sm.DeleteSecretCommand).map((c) => {
    expect(c.args[0].input.ForceDeleteWithoutRecovery).toBe(true);
    return c.args[0].input.SecretId as string;
  });
}

/** The group as Auto Scaling describes it, for the sweep. */
function describeGroup(fn: LoadedFunction, inService: Array<[string, string]>, warm: string[] = []): void {
  fn.autoScaling.on(fn.as.DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [{
      AutoScalingGroupName: 'linux-asg',
      MinSize: 0,
      MaxSize: 10,
      DesiredCapacity: inService.length,
      DefaultCooldown: 0,
      AvailabilityZones: ['eu-west-1a'],
      HealthCheckType: 'EC2',
      CreatedTime: new Date('2026-01-01T00:00:00Z'),
      Instances: inService.map(([id, state]) => ({ InstanceId: id, LifecycleState: state as 'InService', AvailabilityZone: 'eu-west-1a', HealthStatus: 'Healthy', ProtectedFromScaleIn: false })),
    }],
  });
  fn.autoScaling.on(fn.as.DescribeWarmPoolCommand).resolves({
    Instances: warm.map((id) => ({ InstanceId: id, LifecycleState: 'Warmed:Stopped' as const, AvailabilityZone: 'eu-west-1a', HealthStatus: 'Healthy', ProtectedFromScaleIn: false })),
  });
  fn.autoScaling.on(fn.as.DescribeScalingActivitiesCommand).resolves({ Activities: [] });
}

function noActiveAction(): Error {
  return Object.assign(new Error(`No active Lifecycle Action found with instance ID ${INSTANCE}`), { name: 'ValidationError' });
}

/** Auto Scaling as it behaves: the terminate action can be completed once, then there is none. */
function completableOnce(fn: LoadedFunction): void {
  let done = false;
  fn.autoScaling.on(fn.as.CompleteLifecycleActionCommand).callsFake(async () => {
    if (done) {
      throw noActiveAction();
    }
    done = true;
    return {};
  });
}

describe('terminate events', () => {
  test('no runner left at GitHub (an ephemeral runner after its job): deletes the instance secret, continues by token; a redelivered event does nothing more', async () => {
    server.addRunner({ name: 'another-runner', labelNames: ['linux', 'x64', 'fleet-linux'] });
    const fn = load('deregistration');
    completableOnce(fn);

    const first = await fn.handler(lifecycleEvent({ type: 'terminate', token: 'terminate-token' }), lambdaContext('deregistration'));
    const again = await fn.handler(lifecycleEvent({ type: 'terminate', token: 'terminate-token' }), lambdaContext('deregistration'));

    expect(first).toMatchObject({ decision: 'complete', completed: true });
    expect(again).toMatchObject({ decision: 'complete', completed: false });
    expect(server.runners.map((r) => r.name)).toEqual(['another-runner']);
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/)).toEqual([]);
    expect(deletedSecrets(fn)).toEqual([`${PREFIX}${INSTANCE}`]);
    expect(completions(fn)).toEqual([
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-terminate', LifecycleActionToken: 'terminate-token', LifecycleActionResult: 'CONTINUE' },
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-terminate', LifecycleActionToken: 'terminate-token', LifecycleActionResult: 'CONTINUE' },
    ]);
    expect(output.metric('Deregistrations', 'linux')).toBe(1);
    expect(server.requestsTo('POST', /access_tokens$/)).toHaveLength(1);
  });

  test('a late terminate event of an instance reused from the warm pool, now launching again with a fresh secret: the secret is kept', async () => {
    const fn = load('deregistration');
    fn.autoScaling.on(fn.as.CompleteLifecycleActionCommand).rejects(noActiveAction());

    const report = await fn.handler(lifecycleEvent({ type: 'terminate', origin: 'AutoScalingGroup', destination: 'WarmPool', token: 'old-token' }),
      lambdaContext('deregistration'));

    expect(report).toMatchObject({ decision: 'complete', completed: false });
    expect(deletedSecrets(fn)).toEqual([]);
    expect(output.metric('Deregistrations', 'linux')).toBe(0);
  });

  test.each([true, false])('an online runner (busy: %p) is never deleted from here: a heartbeat holds the instance until it retires its runner', async (busy) => {
    server.addRunner({ name: RUNNER, busy, labelNames: ['fleet-linux'] });
    const fn = load('deregistration');

    await fn.handler(lifecycleEvent({ type: 'terminate', time: new Date().toISOString() }), lambdaContext('deregistration'));

    expect(server.runners).toHaveLength(1);
    expect(completions(fn)).toEqual([]);
    expect(fn.autoScaling.commandCalls(fn.as.RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    expect(deletedSecrets(fn)).toEqual([]);
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/)).toEqual([]);
  });

  test.each([
    ['503 for ever', { kind: 'status' as const, status: 503 }],
    ['no answer within the timeout', { kind: 'delay' as const, ms: 10_000 }],
  ])('GitHub failing (%s): answered at once, no runner deleted and no instance let go blindly (the instance decides), counted', async (_case, fault) => {
    server.addRunner({ name: RUNNER, labelNames: ['fleet-linux'] });
    server.fail('GET', /\/actions\/runners$/, fault, 20);
    const fn = load('deregistration', true);
    const started = Date.now();

    const report = await fn.handler(lifecycleEvent({ type: 'terminate', time: new Date().toISOString() }), lambdaContext('deregistration'));

    expect(Date.now() - started).toBeLessThan(2000);
    expect(report.decision).toBe('leave-to-instance');
    expect(completions(fn)).toEqual([]);
    expect(server.runners).toHaveLength(1);
    expect(output.metric('DeregistrationFailures', 'linux')).toBe(1);
    expect(output.metric('GitHubErrors', 'linux')).toBe(1);
  });
});

describe('the scheduled sweep', () => {
  test('removes idle runners and old secrets of instances that are gone, never a busy runner; lets a drained instance go', async () => {
    const live = 'i-0aaaaaaaaaaaaaaa1';
    const gone = 'i-0bbbbbbbbbbbbbbb2';
    const goneBusy = 'i-0ccccccccccccccc3';
    const draining = 'i-0ddddddddddddddd4'; // its ephemeral runner finished its job: GitHub removed it
    for (const [id, busy] of [[live, false], [gone, false], [goneBusy, true]] as const) {
      server.addRunner({ name: runnerNameFor('linux', id), busy, labelNames: ['fleet-linux'] });
    }
    server.addRunner({ name: 'someone-elses-runner', status: 'offline', labelNames: ['windows'] });
    const fn = load('deregistration');
    describeGroup(fn, [[live, 'InService'], [draining, 'Terminating:Wait']]);
    fn.secrets.on(fn.sm.ListSecretsCommand).resolves({
      SecretList: [live, gone].map((id) => ({ Name: `${PREFIX}${id}`, Tags: [{ Key: 'github-runner-fleet:instance-id', Value: id }], CreatedDate: new Date('2026-01-01T00:00:00Z') })),
    });

    const report = await fn.handler(SCHEDULED, lambdaContext('deregistration'));

    expect(report).toMatchObject({ type: 'sweep', fleets: [{ fleet: 'linux', ok: true, runnersDeleted: 1, secretsDeleted: 1, drained: 1 }] });
    expect(server.runners.map((r) => r.name).sort()).toEqual([runnerNameFor('linux', live), runnerNameFor('linux', goneBusy), 'someone-elses-runner'].sort());
    expect(deletedSecrets(fn)).toEqual(expect.arrayContaining([`${PREFIX}${gone}`, `${PREFIX}${draining}`]));
    expect(deletedSecrets(fn)).not.toContain(`${PREFIX}${live}`);
    expect(completions(fn)).toEqual([
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-terminate', InstanceId: draining, LifecycleActionResult: 'CONTINUE' },
    ]);
    // One listing of the connection's runners for the whole sweep.
    expect(server.requestsTo('GET', /\/actions\/runners$/).filter((r) => !r.query.has('name'))).toHaveLength(1);
  });

  test('a runner GitHub created for a registration that was abandoned (answers lost), which the registration could not remove, is removed by the next sweep', async () => {
    // Every JIT request is acted on, but its answer never arrives in time; the registration's own
    // clean-up (the runner looked up by name after the ABANDON) fails too.
    server.fail('POST', /generate-jitconfig$/, { kind: 'delay', ms: 1000, phase: 'response' }, 20);
    server.fail('GET', /\/orgs\/acme\/actions\/runners$/, { kind: 'status', status: 503 }, 3);
    const registration = load('registration', true);
    const registered = await registration.handler(lifecycleEvent(), lambdaContext('registration'));
    expect(registered.outcome).toBe('abandoned');
    await server.settled(); // the last delayed JIT request has been acted on at GitHub
    expect(server.runners.map((r) => r.name)).toEqual([RUNNER]);

    // The instance was replaced (ABANDON): it is no longer in the group.
    const sweep = load('deregistration');
    describeGroup(sweep, []);
    sweep.secrets.on(sweep.sm.ListSecretsCommand).resolves({ SecretList: [] });
    await sweep.handler(SCHEDULED, lambdaContext('deregistration'));

    expect(server.runners).toEqual([]);
  });

  test('GitHub down during the sweep: nothing is deleted, the failure is reported per fleet', async () => {
    server.addRunner({ name: RUNNER, labelNames: ['fleet-linux'] });
    server.fail('GET', /\/actions\/runners$/, { kind: 'status', status: 500 }, 20);
    const fn = load('deregistration', true);
    describeGroup(fn, []);
    fn.secrets.on(fn.sm.ListSecretsCommand).resolves({ SecretList: [] });

    const report = await fn.handler(SCHEDULED, lambdaContext('deregistration'));

    expect(report.fleets).toEqual([expect.objectContaining({ fleet: 'linux', ok: false })]);
    expect(server.runners).toHaveLength(1);
    expect(deletedSecrets(fn)).toEqual([]);
    expect(output.metric('GitHubErrors', 'linux')).toBe(1);
  });
});
