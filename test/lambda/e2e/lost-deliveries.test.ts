/**
 * A lost delivery recovered end to end: the webhook function and the idle-metric function (their real
 * entry points and adapters) share one job table (aws-sdk-client-mock); the fake GitHub keeps the App's
 * deliveries and, when asked to redeliver one, sends it to the webhook function again.
 */
import type * as AutoScaling from '@aws-sdk/client-auto-scaling';
import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../../src/contract';
import { FakeGitHubServer } from '../../fixtures/fake-github-server';
import { fleetEntry, runtimeConfig, workflowJobPayload } from '../fixtures';
import { DescribedGroup, describeGroups, lambdaContext, OutputCapture, useFakeGitHub } from './harness';
import { FakeJobTable } from './job-table';
import { functionUrlEvent, LoadedWebhook, loadWebhook } from './webhook-function';

let server: FakeGitHubServer;
let output: OutputCapture;
useFakeGitHub((s, o) => {
  server = s;
  output = o;
});

const WEBHOOK = { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf', maxBodyBytes: 65536 };

function fleetConfig(): FleetRuntimeConfig {
  return { ...runtimeConfig([fleetEntry({ name: 'linux', idleTarget: 0, directScaleOut: true })], server.url), webhook: WEBHOOK };
}

/** A fresh execution environment of lambda/idle-metric.lambda.ts on `table` and the webhook's `group`. */
function loadIdleMetric(config: FleetRuntimeConfig, table: FakeJobTable, group: DescribedGroup) {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(config);
  let handler: ((event: unknown, context: unknown) => Promise<any>) | undefined;
  try {
    jest.isolateModules(() => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const sm = require('@aws-sdk/client-secrets-manager') as typeof SecretsManager;
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      const ddb = require('@aws-sdk/client-dynamodb') as typeof DynamoDB;
      mockClient(sm.SecretsManagerClient).on(sm.GetSecretValueCommand).callsFake(async () => ({ SecretString: server.appCredentials() }));
      describeGroups(mockClient(as.AutoScalingClient), as, [group]);
      const { mockJobTable } = require('./job-table') as typeof import('./job-table');
      mockJobTable(ddb, table);
      handler = require('../../../lambda/idle-metric.lambda').handler;
      /* eslint-enable @typescript-eslint/no-require-imports */
    });
  } finally {
    if (previous === undefined) delete process.env[ENV_FLEET_CONFIG];
    else process.env[ENV_FLEET_CONFIG] = previous;
  }
  return handler!;
}

/** GitHub's side of a delivery: sends it to the webhook function and records the attempt with the answer. */
async function deliver(webhook: LoadedWebhook, body: string, guid: string): Promise<number> {
  const statusCode = (await webhook.handler(functionUrlEvent(body, { id: guid }), lambdaContext('webhook'))).statusCode ?? 0;
  server.recordHookDelivery({ guid, body, statusCode });
  return statusCode;
}

const throughput = () => Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded.'), {
  name: 'ProvisionedThroughputExceededException',
});

test('a queued delivery lost to a failed write, with no idle runner: the next tick redelivers it, the job is recorded and the fleet raised', async () => {
  const config = fleetConfig();
  const table = new FakeJobTable();
  const webhook = loadWebhook(config, table);
  webhook.group.desired = 0;
  server.onRedeliver = async (sent, guid) => (await webhook.handler(functionUrlEvent(sent.body, { id: guid, event: sent.event }))).statusCode ?? 0;
  const tick = loadIdleMetric(config, table, webhook.group);
  const createdAt = new Date().toISOString();

  table.fail('UpdateItem', throughput);
  expect(await deliver(webhook, workflowJobPayload({ id: 51, createdAt }), 'lost-queued')).toBe(500);
  expect(await deliver(webhook, workflowJobPayload({ id: 52, createdAt }), 'fine')).toBe(202);
  expect(table.items.has('job#51')).toBe(false);
  expect(webhook.group.desired).toBe(1);

  const report = await tick({ 'detail-type': 'Scheduled Event' }, lambdaContext('idle-metric'));

  expect(report.redelivered).toBe(1);
  const attempts = server.requestsTo('POST', /^\/app\/hook\/deliveries\/\d+\/attempts$/);
  expect(attempts).toHaveLength(1);
  expect(server.hookDeliveries.filter((d) => d.guid === 'lost-queued').map((d) => [d.redelivery, d.status_code])).toEqual([[false, 500], [true, 202]]);
  expect(table.items.get('job#51')?.status).toEqual({ S: 'queued' });
  expect(webhook.group.desired).toBe(2);
  expect(output.metric('DeliveriesRedelivered', '(none)')).toBe(1);

  // The redelivery succeeded: the next tick asks for nothing more.
  const next = await tick({ 'detail-type': 'Scheduled Event' }, lambdaContext('idle-metric'));
  expect(next.redelivered).toBe(0);
  expect(server.requestsTo('POST', /\/attempts$/)).toHaveLength(1);
  expect(server.requestsTo('GET', /^\/app\/hook\/deliveries$/)).toHaveLength(2);
});

test('a redelivery that fails again is retried on the next tick, and given up after three attempts', async () => {
  const config = fleetConfig();
  const table = new FakeJobTable();
  const webhook = loadWebhook(config, table);
  server.onRedeliver = async (sent, guid) => (await webhook.handler(functionUrlEvent(sent.body, { id: guid, event: sent.event }))).statusCode ?? 0;
  const tick = loadIdleMetric(config, table, webhook.group);
  table.fail('UpdateItem', throughput, 3);

  expect(await deliver(webhook, workflowJobPayload({ id: 53, createdAt: new Date().toISOString() }), 'keeps-failing')).toBe(500);
  for (let i = 0; i < 4; i++) {
    await tick({}, lambdaContext('idle-metric'));
  }

  expect(server.hookDeliveries.filter((d) => d.guid === 'keeps-failing').map((d) => d.status_code)).toEqual([500, 500, 500]);
  expect(table.items.has('job#53')).toBe(false);
  expect(output.metric('DeliveriesRedelivered', '(none)')).toBe(2);
});

describe('reconciliation over HTTP when the App may not read jobs', () => {
  // The clock is pinned (Date only; timers stay real for the HTTP client): the job is exactly 2.5 minutes old.
  const NOW = new Date('2026-11-24T10:02:30Z');
  beforeEach(() => {
    jest.useFakeTimers({
      now: NOW,
      doNotFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'nextTick', 'queueMicrotask', 'hrtime', 'performance'],
    });
  });
  afterEach(() => jest.useRealTimers());

  test('a 403 on the job lookup ("Resource not accessible by integration"): the job keeps counting as waiting, JobLookupDenied is counted, the fix logged', async () => {
    const config = fleetConfig();
    const table = new FakeJobTable();
    const webhook = loadWebhook(config, table);
    webhook.group.desired = 0;
    const tick = loadIdleMetric(config, table, webhook.group);
    expect(await deliver(webhook, workflowJobPayload({ id: 54, createdAt: '2026-11-24T10:00:00Z' }), 'queued-54')).toBe(202);
    server.jobs.set(54, { repository: 'acme/app', status: 'completed' });
    server.fail('GET', /\/actions\/jobs\/54$/, { kind: 'status', status: 403, message: 'Resource not accessible by integration' });

    const report = await tick({}, lambdaContext('idle-metric'));

    expect(server.requestsTo('GET', /^\/repos\/acme\/app\/actions\/jobs\/54$/).map((r) => r.status)).toEqual([403]);
    expect(report).toMatchObject({ reconciled: 0, unreadable: 1 });
    expect(table.items.get('job#54')?.status).toEqual({ S: 'queued' });
    expect(output.metric('JobLookupDenied', 'linux')).toBe(1);
    expect(output.metric('QueuedJobs', 'linux')).toBe(2); // once from the delivery, once from the tick
    expect(webhook.group.desired).toBe(1);
    expect(output.logs().filter((l) => l.level === 'ERROR')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('grant the GitHub App the repository permission "Actions: read"') }),
    ]);
  });
});
