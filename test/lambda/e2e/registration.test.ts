/**
 * The registration function end to end: the real entry point and adapters, Octokit over HTTP against
 * the fake GitHub, AWS through aws-sdk-client-mock. Whatever GitHub does, the launch action is completed
 * (CONTINUE on success, ABANDON otherwise), no secret reaches the logs, and nothing is left behind.
 */
import { generateKeyPairSync } from 'crypto';
import type { GitHubTuning } from '../../../lambda/adapters/lambda-entry';
import { runnerNameFor } from '../../../src/contract';
import type { FleetRuntimeEntry } from '../../../src/contract';
import { Fault, FakeGitHubServer } from '../../fixtures/fake-github-server';
import { fleetEntry, lifecycleEvent, runtimeConfig } from '../fixtures';
import { ACCOUNT, FAST, lambdaContext, LoadedFunction, loadFunction, OutputCapture, REGION, useFakeGitHub } from './harness';

const INSTANCE = 'i-0123456789abcdef0';
const RUNNER = runnerNameFor('linux', INSTANCE);
const JIT = /\/actions\/runners\/generate-jitconfig$/;

let server: FakeGitHubServer;
let output: OutputCapture;
let credentials: () => string;
useFakeGitHub((s, o) => {
  server = s;
  output = o;
  credentials = () => s.appCredentials();
});

/** Lifecycle states by instance id, as Auto Scaling keeps them (`undefined`: no group knows it); an instance not listed is `Pending:Wait`. */
type InstanceStates = Map<string, string | undefined>;

/** The registration function: the entry point module itself, or its composition with FAST timings. */
function registration(fleets: FleetRuntimeEntry[] = [fleetEntry()], tuning?: GitHubTuning, states: InstanceStates = new Map()): LoadedFunction {
  const fn = loadFunction('registration', runtimeConfig(fleets, server.url), () => credentials(), tuning);
  modelAutoScaling(fn, states);
  modelSecrets(fn);
  return fn;
}

/** Secrets Manager as it behaves for the instance secrets: DescribeSecret finds what was created and not deleted. */
function modelSecrets(fn: LoadedFunction): void {
  const existing = new Set<string>();
  fn.secrets.on(fn.sm.CreateSecretCommand).callsFake(async (input: { Name: string }) => {
    existing.add(input.Name);
    return {};
  });
  fn.secrets.on(fn.sm.DeleteSecretCommand).callsFake(async (input: { SecretId: string }) => {
    if (!existing.delete(input.SecretId)) {
      throw Object.assign(new Error('Secrets Manager can\'t find the specified secret.'), { name: 'ResourceNotFoundException' });
    }
    return {};
  });
  fn.secrets.on(fn.sm.DescribeSecretCommand).callsFake(async (input: { SecretId: string }) => {
    if (!existing.has(input.SecretId)) {
      throw Object.assign(new Error('Secrets Manager can\'t find the specified secret.'), { name: 'ResourceNotFoundException' });
    }
    return { Name: input.SecretId };
  });
}

/**
 * Auto Scaling as it behaves: DescribeAutoScalingInstances answers the instance's state; a launch action
 * can be completed once, while its instance waits (CONTINUE → InService, ABANDON → Terminating); after
 * that, "No active Lifecycle Action found". A completion by token applies to the instance that waits.
 */
function modelAutoScaling(fn: LoadedFunction, states: InstanceStates): void {
  const stateOf = (id: string) => (states.has(id) ? states.get(id) : 'Pending:Wait');
  fn.autoScaling.on(fn.as.DescribeAutoScalingInstancesCommand).callsFake(async (input: { InstanceIds?: string[] }) => {
    const id = input.InstanceIds![0];
    const state = stateOf(id);
    states.set(id, state);
    return {
      AutoScalingInstances: state === undefined ? [] : [{
        InstanceId: id,
        AutoScalingGroupName: 'linux-asg',
        LifecycleState: state,
        AvailabilityZone: `${REGION}a`,
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      }],
    };
  });
  fn.autoScaling.on(fn.as.CompleteLifecycleActionCommand).callsFake(async (input: { InstanceId?: string; LifecycleActionResult?: string }) => {
    const id = input.InstanceId ?? [...states.keys()].find((i) => states.get(i) === 'Pending:Wait') ?? INSTANCE;
    if (stateOf(id) !== 'Pending:Wait') {
      throw Object.assign(new Error(`No active Lifecycle Action found with instance ID ${id}`), { name: 'ValidationError' });
    }
    states.set(id, input.LifecycleActionResult === 'CONTINUE' ? 'InService' : 'Terminating');
    return {};
  });
}

function completions(fn: LoadedFunction): Array<Record<string, unknown>> {
  return fn.autoScaling.commandCalls(fn.as.CompleteLifecycleActionCommand).map((c) => ({ ...c.args[0].input }));
}

function storedSecrets(fn: LoadedFunction): Array<Record<string, any>> {
  return fn.secrets.commandCalls(fn.sm.CreateSecretCommand).map((c) => c.args[0].input);
}

/** No JIT configuration, registration token, installation token or private key in anything written. */
function expectNoSecretInOutput(): void {
  const text = output.text();
  for (const secret of server.issuedSecrets()) {
    expect(text).not.toContain(secret);
  }
  expect(text).not.toMatch(/PRIVATE KEY|MII[A-Za-z0-9+/]{20}/);
}

/** Nothing left behind: no runner of the instance at GitHub, and any secret written was deleted again. */
function expectNothingLeft(fn: LoadedFunction): void {
  expect(server.runners.filter((r) => r.name === RUNNER)).toEqual([]);
  const written = storedSecrets(fn).map((s) => s.Name);
  const deleted = fn.secrets.commandCalls(fn.sm.DeleteSecretCommand).map((c) => c.args[0].input.SecretId);
  expect(written.filter((name) => !deleted.includes(name))).toEqual([]);
}

describe('registration succeeds', () => {
  test('ephemeral: a JIT runner, its configuration in the instance\'s secret tagged with the instance ARN, CONTINUE by token', async () => {
    const fn = registration();

    const report = await fn.handler(lifecycleEvent({ token: 'launch-token' }), lambdaContext('registration'));

    expect(report).toEqual({ outcome: 'registered', instanceId: INSTANCE, fleet: 'linux' });
    expect(server.runners.map((r) => r.name)).toEqual([RUNNER]);
    const [secret] = storedSecrets(fn);
    expect(secret.Name).toBe(`github-runner-fleet/linux/${INSTANCE}`);
    expect(secret.Tags).toEqual([
      { Key: 'github-runner-fleet:instance-arn', Value: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${INSTANCE}` },
      { Key: 'github-runner-fleet:instance-id', Value: INSTANCE },
    ]);
    expect(JSON.parse(secret.SecretString)).toEqual({ mode: 'ephemeral', runnerName: RUNNER, jitConfig: server.issuedJitConfigs[0] });
    expect(completions(fn)).toEqual([{
      AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-launch', LifecycleActionToken: 'launch-token', LifecycleActionResult: 'CONTINUE',
    }]);
    expect(output.metric('Registrations', 'linux')).toBe(1);
    expect(output.logs().find((l) => l.message.startsWith('Runner registered'))).toMatchObject({
      instanceId: INSTANCE, fleet: 'linux', function_request_id: expect.stringMatching(/^request-/), cold_start: expect.any(Boolean),
    });
    expectNoSecretInOutput();
  });

  test('persistent: a registration token and the organization URL in the secret, no runner created by us', async () => {
    const fn = registration([fleetEntry({ mode: 'persistent', runnerGroupName: 'Builders' })]);

    await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(JSON.parse(storedSecrets(fn)[0].SecretString)).toEqual({
      mode: 'persistent',
      runnerName: RUNNER,
      registrationToken: server.issuedRegistrationTokens[0],
      registrationUrl: `${server.url}/acme`,
      labels: 'linux,x64,fleet-linux',
      runnerGroupName: 'Builders',
    });
    expect(server.runners).toEqual([]);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
    expectNoSecretInOutput();
  });

  test('a warm function reads the credentials once and mints one App token for many invocations', async () => {
    const fn = registration();

    for (const suffix of ['1', '2']) {
      await fn.handler(lifecycleEvent({ instanceId: `i-0aaaaaaaaaaaaaaa${suffix}` }), lambdaContext('registration'));
    }

    expect(server.runners).toHaveLength(2);
    expect(server.requestsTo('POST', /^\/app\/installations\/77\/access_tokens$/)).toHaveLength(1);
    expect(fn.secrets.commandCalls(fn.sm.GetSecretValueCommand)).toHaveLength(1);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE', 'CONTINUE']);
  });

  test.each<[string, Fault]>([
    ['a 502 blip', { kind: 'status', status: 502 }],
    ['a reset connection', { kind: 'reset' }],
    ['a 429 with retry-after: 1', { kind: 'secondary-rate-limit', status: 429, retryAfter: 1 }],
    ['a secondary rate limit (403) with retry-after: 1', { kind: 'secondary-rate-limit', retryAfter: 1 }],
  ])('%s on the JIT request is retried: registered, CONTINUE', async (_case, fault) => {
    server.fail('POST', JIT, fault);
    const fn = registration(undefined, FAST);

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('registered');
    expect(server.runners.map((r) => r.name)).toEqual([RUNNER]);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
    expectNoSecretInOutput();
  });

});

describe('registration fails: ABANDON, nothing left, no secret logged', () => {
  test.each<[string, Fault, number]>([
    ['503 for ever', { kind: 'status', status: 503 }, 20],
    ['422 Validation Failed', { kind: 'status', status: 422, message: 'Validation Failed' }, 1],
    ['connections reset for ever', { kind: 'reset' }, 20],
    ['no answer within the timeout, for ever', { kind: 'delay', ms: 10_000 }, 20],
    ['a secondary rate limit asking for 120 s', { kind: 'secondary-rate-limit', retryAfter: 120 }, 20],
    ['the primary rate limit, reset in an hour', { kind: 'rate-limit', retryAfter: 3600 }, 20],
  ])('%s', async (_case, fault, times) => {
    server.fail('POST', JIT, fault, times);
    const fn = registration(undefined, FAST);
    const started = Date.now();

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('abandoned');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expect(storedSecrets(fn)).toEqual([]);
    expect(output.metric('RegistrationFailures', 'linux')).toBe(1);
    expect(output.metric('GitHubErrors', 'linux')).toBe(1);
    expectNothingLeft(fn);
    expectNoSecretInOutput();
  });

  test('the real entry point near its timeout: GitHub gets the time left minus 5 s, then ABANDON in time', async () => {
    server.fail('POST', JIT, { kind: 'delay', ms: 10_000 }, 20);
    const fn = registration();
    const started = Date.now();

    // 6.5 s left: 1.5 s for GitHub (one attempt, no time for a back-off), 5 s kept for AWS.
    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration', 6500));

    expect(report.outcome).toBe('abandoned');
    expect(Date.now() - started).toBeLessThan(2500);
    expect(server.requestsTo('POST', JIT)).toHaveLength(1);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expectNothingLeft(fn);
  });

  test.each<[string, () => string]>([
    ['a credentials secret that is not JSON', () => 'AKIA-not-json-secret-value'],
    ['an App key that is not the App\'s', () => JSON.stringify({
      appId: server.appId,
      installationId: 77,
      privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    })],
    ['an unreadable credentials secret', () => {
      throw Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' });
    }],
  ])('%s', async (_case, secret) => {
    credentials = secret;
    const fn = registration();

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('abandoned');
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expect(output.text()).not.toContain('AKIA-not-json-secret-value');
    expectNothingLeft(fn);
    expectNoSecretInOutput();
  });

  test('the secret cannot be written: the JIT runner is deleted again at GitHub, then ABANDON', async () => {
    const fn = registration();
    fn.secrets.on(fn.sm.CreateSecretCommand).rejects(Object.assign(new Error('not authorized to perform secretsmanager:CreateSecret'), { name: 'AccessDeniedException' }));

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('abandoned');
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/).map((r) => r.status)).toEqual([204]);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expectNothingLeft(fn);
    expectNoSecretInOutput();
  });

  test('a busy runner of the same name (409) and no secret: left to whoever created it, the busy runner untouched, nothing completed', async () => {
    server.addRunner({ name: RUNNER, busy: true, labelNames: ['fleet-linux'] });
    const fn = registration();

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('in-flight');
    expect(server.runners).toHaveLength(1);
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/)).toEqual([]);
    expect(completions(fn)).toEqual([]);
    expect(output.metric('LaunchConflictsLeftInFlight', 'linux')).toBe(1);
  });

});

test('a launch into the warm pool is left to the instance: no GitHub call, no completion', async () => {
  const fn = registration();

  const report = await fn.handler(lifecycleEvent({ destination: 'WarmPool' }), lambdaContext('registration'));

  expect(report.outcome).toBe('left-to-instance');
  expect(server.requests).toEqual([]);
  expect(completions(fn)).toEqual([]);
});

describe('duplicated, late and expired launch events; lost answers; an auth outage', () => {
  const TOKEN_PATH = /^\/app\/installations\/77\/access_tokens$/;

  test('a duplicate delivered after the instance is InService with its runner online: the runner is not deleted, nothing written, not counted', async () => {
    const fn = registration();
    await fn.handler(lifecycleEvent(), lambdaContext('registration'));
    // The instance reads its secret, deletes it, and its runner comes online.
    const [secret] = storedSecrets(fn);
    await fn.secrets.send(new fn.sm.DeleteSecretCommand({ SecretId: secret.Name, ForceDeleteWithoutRecovery: true }));
    server.runners[0].status = 'online';

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('duplicate');
    expect(server.runners.map((r) => [r.name, r.status])).toEqual([[RUNNER, 'online']]);
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/)).toEqual([]);
    expect(server.requestsTo('POST', JIT)).toHaveLength(1);
    expect(storedSecrets(fn)).toHaveLength(1);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['CONTINUE']);
    expect(output.metric('Registrations', 'linux')).toBe(1);
    expect(output.metric('DuplicateLaunchEvents', 'linux')).toBe(1);
  });

  test('a JIT call that times out at the client after GitHub created the runner: ABANDON, then that runner is found by name and removed', async () => {
    // GitHub acts on the request, then its answer takes far longer (30 s) than the client's 5 s per
    // attempt; the retry's answer comes at once, well within its 5 s.
    server.fail('POST', JIT, { kind: 'delay', ms: 30_000, phase: 'response' });
    const fn = registration(undefined, { ...FAST, requestTimeoutMs: 5_000 });

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('abandoned');
    // The retry meets 409: the runner the lost attempt created. It is not deleted to register again.
    expect(server.requestsTo('POST', JIT).map((r) => r.status)).toEqual([undefined, 409]);
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/).map((r) => r.status)).toEqual([204]);
    expect(server.runners).toEqual([]);
    expect(output.metric('RegistrationFailures', 'linux')).toBe(1);
    expectNothingLeft(fn);
    expectNoSecretInOutput();
  });

  test('the launch action expired before CONTINUE: reported as expired, not counted; its runner and secret are removed', async () => {
    const states: InstanceStates = new Map();
    const fn = registration(undefined, undefined, states);
    fn.autoScaling.on(fn.as.CompleteLifecycleActionCommand).callsFake(async () => {
      states.set(INSTANCE, 'Terminating:Wait'); // the hook timed out (ABANDON) a moment ago
      throw Object.assign(new Error(`No active Lifecycle Action found with instance ID ${INSTANCE}`), { name: 'ValidationError' });
    });

    const report = await fn.handler(lifecycleEvent(), lambdaContext('registration'));

    expect(report.outcome).toBe('expired');
    expect(server.runners).toEqual([]);
    expect(server.requestsTo('DELETE', /\/actions\/runners\/\d+$/).map((r) => r.status)).toEqual([204]);
    expectNothingLeft(fn);
    expect(output.metric('Registrations', 'linux')).toBe(0);
    expect(output.metric('ExpiredLaunchActions', 'linux')).toBe(1);
  });

  test('an auth outage (the token endpoint answers 500): 3 token requests, then ABANDON with the AWS reserve intact, before the deadline', async () => {
    server.fail('POST', TOKEN_PATH, { kind: 'status', status: 500 }, 100);
    const fn = registration(undefined, FAST);
    // A fake clock: every request to GitHub costs its full 8 s timeout, the worst an outage can do (the
    // few real milliseconds are not counted), out of a 60 s function timeout.
    const timeoutMs = 60_000;
    const remaining = () => timeoutMs - 8_000 * server.requests.length;
    const context = { ...lambdaContext('registration'), getRemainingTimeInMillis: remaining };
    const atAbandon: Array<{ remainingMs: number; tokenRequests: number }> = [];
    const complete = fn.autoScaling.on(fn.as.CompleteLifecycleActionCommand);
    complete.callsFake(async () => {
      atAbandon.push({ remainingMs: remaining(), tokenRequests: server.requestsTo('POST', TOKEN_PATH).length });
      return {};
    });

    const report = await fn.handler(lifecycleEvent(), context);

    expect(report.outcome).toBe('abandoned');
    expect(completions(fn).map((c) => c.LifecycleActionResult)).toEqual(['ABANDON']);
    // One retry budget for the chain: the JIT request's 2 retries, one token request each (nested, 3 × 3).
    expect(atAbandon).toEqual([{ remainingMs: timeoutMs - 3 * 8_000, tokenRequests: 3 }]);
    expect(server.requestsTo('POST', JIT)).toEqual([]);
    // The clean-up after the ABANDON is one more chain, still within the time GitHub is given.
    expect(server.requestsTo('POST', TOKEN_PATH).length).toBeLessThanOrEqual(6);
    expect(remaining()).toBeGreaterThanOrEqual(5_000);
    expectNoSecretInOutput();
  });
});
