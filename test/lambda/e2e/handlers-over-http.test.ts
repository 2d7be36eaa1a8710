/**
 * Handlers wired to the real adapters: Octokit over HTTP against the fake GitHub server, AWS through
 * aws-sdk-client-mock. For every injected fault, the lifecycle action is completed with the right
 * result, no secret value reaches the logs, and nothing is left behind.
 */
import {
  AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand, DescribeWarmPoolCommand, RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateSecretCommand, DeleteSecretCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createAutoScalingPort } from '../../../lambda/adapters/auto-scaling';
import { createGitHubPort } from '../../../lambda/adapters/github';
import { createSecretsPort } from '../../../lambda/adapters/secrets';
import { createDeregistrationHandler } from '../../../lambda/handlers/deregistration';
import type { HandlerDeps } from '../../../lambda/handlers/deps';
import { createIdleMetricHandler } from '../../../lambda/handlers/idle-metric';
import { createRegistrationHandler } from '../../../lambda/handlers/registration';
import type { LoggerPort, MetricsPort } from '../../../lambda/ports';
import type { FleetRuntimeEntry } from '../../../src/contract';
import { FakeGitHubServer, Fault } from '../../fixtures/fake-github-server';
import { fleetEntry, lifecycleEvent, runtimeConfig } from '../fixtures';

const asMock = mockClient(AutoScalingClient);
const smMock = mockClient(SecretsManagerClient);
let server: FakeGitHubServer;
let logs: string[];

beforeEach(async () => {
  server = await new FakeGitHubServer().start();
  asMock.reset();
  smMock.reset();
  asMock.on(CompleteLifecycleActionCommand).resolves({});
  asMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});
  smMock.on(CreateSecretCommand).resolves({});
  smMock.on(DeleteSecretCommand).resolves({});
  logs = [];
});
afterEach(async () => {
  await server.stop();
});

function deps(fleets: FleetRuntimeEntry[] = [fleetEntry()]): HandlerDeps {
  const config = runtimeConfig(fleets, server.url);
  const logger: LoggerPort = {
    info: (m, a) => logs.push(JSON.stringify({ m, a })),
    warn: (m, a) => logs.push(JSON.stringify({ m, a })),
    error: (m, a) => logs.push(JSON.stringify({ m, a })),
  };
  const metrics: MetricsPort = { add: () => {}, flush: () => {} };
  return {
    config,
    github: createGitHubPort(config.github, {
      readCredentials: async () => JSON.stringify({ appId: server.appId, privateKey: server.privateKeyPem, installationId: server.installationId }),
      logger,
      retryBaseMs: 10,
      requestTimeoutMs: 500,
    }),
    autoScaling: createAutoScalingPort(new AutoScalingClient({})),
    secrets: createSecretsPort(new SecretsManagerClient({})),
    metrics,
    logger,
    environment: { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' },
  };
}

function completions(): string[] {
  return asMock.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input.LifecycleActionResult!);
}

function assertNoSecretInLogs(): void {
  const text = logs.join('\n');
  for (const secret of [...server.issuedJitConfigs, ...server.issuedTokens, ...server.installationTokens]) {
    expect(text).not.toContain(secret);
  }
  expect(text).not.toContain('PRIVATE KEY');
}

describe('registration over HTTP', () => {
  test('registers a JIT runner, stores its config for the instance, continues', async () => {
    const report = await createRegistrationHandler(deps())(lifecycleEvent());
    expect(report.outcome).toBe('registered');
    expect(server.runners.map((r) => r.name)).toEqual(['linux-i-0123456789abcdef0']);
    const stored = JSON.parse(smMock.commandCalls(CreateSecretCommand)[0].args[0].input.SecretString!);
    expect(stored.jitConfig).toBe(server.issuedJitConfigs[0]);
    expect(completions()).toEqual(['CONTINUE']);
    assertNoSecretInLogs();
  });

  test.each<[string, Fault, number]>([
    ['503 for ever', { kind: 'status', status: 503 }, 10],
    ['422 on the JIT request', { kind: 'status', status: 422, message: 'Validation Failed' }, 1],
    ['a dropped connection', { kind: 'reset' }, 10],
    ['a secondary rate limit that persists', { kind: 'secondary-rate-limit', retryAfter: 120 }, 10],
  ])('%s: ABANDON promptly, nothing left at GitHub, no secret logged', async (_name, fault, times) => {
    server.fail('POST', /generate-jitconfig$/, fault, times);
    const report = await createRegistrationHandler(deps())(lifecycleEvent());
    expect(report.outcome).toBe('abandoned');
    expect(completions()).toEqual(['ABANDON']);
    expect(server.runners).toEqual([]);
    assertNoSecretInLogs();
  });

  test('a timeout: ABANDON promptly; a runner GitHub created after we gave up is removed by the next sweep', async () => {
    server.fail('POST', /generate-jitconfig$/, { kind: 'delay', ms: 1200 }, 10);
    const report = await createRegistrationHandler(deps())(lifecycleEvent());
    expect(report.outcome).toBe('abandoned');
    expect(completions()).toEqual(['ABANDON']);
    assertNoSecretInLogs();

    // GitHub finished the slow requests after the client's timeout: runners exist that nobody knows.
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.runners.length).toBeGreaterThan(0);
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    asMock.on(DescribeWarmPoolCommand).resolves({ Instances: [] });
    smMock.on(ListSecretsCommand).resolves({ SecretList: [] });
    await createDeregistrationHandler(deps())({ 'detail-type': 'Scheduled Event' });
    expect(server.runners).toEqual([]);
  });

  test('a 5xx blip is retried and the registration succeeds', async () => {
    server.fail('POST', /generate-jitconfig$/, { kind: 'status', status: 502 }, 1);
    expect((await createRegistrationHandler(deps())(lifecycleEvent())).outcome).toBe('registered');
    expect(completions()).toEqual(['CONTINUE']);
  });

  test('the secret write failing: the JIT runner is deleted again at GitHub, then ABANDON', async () => {
    smMock.on(CreateSecretCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const report = await createRegistrationHandler(deps())(lifecycleEvent());
    expect(report.outcome).toBe('abandoned');
    expect(server.runners).toEqual([]);
    expect(server.requestsTo('DELETE', /actions\/runners\/\d+$/)).toHaveLength(1);
    expect(completions()).toEqual(['ABANDON']);
    assertNoSecretInLogs();
  });

  test('the App token is minted once for many invocations of a warm function', async () => {
    const handler = createRegistrationHandler(deps());
    for (let i = 0; i < 5; i++) {
      await handler(lifecycleEvent({ instanceId: `i-0${'abcdef0123456789'.slice(0, 15)}${i}` }));
    }
    expect(server.requestsTo('POST', /access_tokens$/)).toHaveLength(1);
    expect(server.runners).toHaveLength(5);
  });
});

describe('deregistration over HTTP', () => {
  test('removes the runner and continues; a second event finds it gone (404 path) and continues', async () => {
    server.addRunner({ name: 'linux-i-0123456789abcdef0', labelNames: ['fleet-linux'] });
    const handler = createDeregistrationHandler(deps());
    await handler(lifecycleEvent({ type: 'terminate' }));
    await handler(lifecycleEvent({ type: 'terminate' }));
    expect(server.runners).toEqual([]);
    expect(completions()).toEqual(['CONTINUE', 'CONTINUE']);
  });

  test('a busy runner (422 on delete) holds the instance with a heartbeat', async () => {
    server.addRunner({ name: 'linux-i-0123456789abcdef0', busy: true, labelNames: ['fleet-linux'] });
    await createDeregistrationHandler(deps())(lifecycleEvent({ type: 'terminate', time: new Date().toISOString() }));
    expect(completions()).toEqual([]);
    expect(asMock.commandCalls(RecordLifecycleActionHeartbeatCommand)).toHaveLength(1);
    expect(server.runners).toHaveLength(1);
  });

  test('GitHub down: the instance is let go at once', async () => {
    server.fail('GET', /actions\/runners$/, { kind: 'status', status: 500 }, 10);
    const started = Date.now();
    await createDeregistrationHandler(deps())(lifecycleEvent({ type: 'terminate' }));
    expect(completions()).toEqual(['CONTINUE']);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('idle metric over HTTP', () => {
  test('three fleets, 250 runners: one listing of three pages per tick', async () => {
    for (const [fleet, count] of [['fleet-a', 100], ['fleet-b', 100], ['fleet-c', 50]] as const) {
      for (let i = 0; i < count; i++) server.addRunner({ name: `${fleet}-${i}`, labelNames: [fleet] });
    }
    const fleets = ['a', 'b', 'c'].map((n) => fleetEntry({ name: n }));
    const report = await createIdleMetricHandler(deps(fleets))();
    expect(report.counts).toEqual({
      a: { idle: 100, busy: 0, offline: 0, total: 100 },
      b: { idle: 100, busy: 0, offline: 0, total: 100 },
      c: { idle: 50, busy: 0, offline: 0, total: 50 },
    });
    expect(server.requestsTo('GET', /actions\/runners$/)).toHaveLength(3);
  });
});
