/**
 * The webhook function end to end: the real entry point and adapters (signature check with
 * @octokit/webhooks-methods, the DynamoDB job store, Powertools EMF), Function URL events signed with
 * HMAC-SHA256 as GitHub signs them; Secrets Manager and DynamoDB through aws-sdk-client-mock, the table
 * kept in a Map with the conditional writes the adapter asks for.
 */
import { createHmac } from 'crypto';
import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../../src/contract';
import { fleetEntry, runtimeConfig, workflowJobPayload } from '../fixtures';
import { lambdaContext, OutputCapture } from './harness';

const SECRET = 'a webhook secret of forty characters....';
const config: FleetRuntimeConfig = {
  ...runtimeConfig([fleetEntry({ name: 'linux', idleTarget: 1 })]),
  webhook: { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf', maxBodyBytes: 65536 },
};

type Item = Record<string, DynamoDB.AttributeValue>;

interface LoadedWebhook {
  readonly handler: (event: APIGatewayProxyEventV2, context?: object) => Promise<{ statusCode?: number; body?: string }>;
  readonly table: Map<string, Item>;
  readonly secretReads: () => number;
}

/** A fresh execution environment of lambda/webhook.lambda.ts. */
function loadWebhook(): LoadedWebhook {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(config);
  const table = new Map<string, Item>();
  let reads = 0;
  let loaded: LoadedWebhook | undefined;
  try {
    jest.isolateModules(() => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const sm = require('@aws-sdk/client-secrets-manager') as typeof SecretsManager;
      const ddb = require('@aws-sdk/client-dynamodb') as typeof DynamoDB;
      mockClient(sm.SecretsManagerClient).on(sm.GetSecretValueCommand).callsFake(async () => {
        reads++;
        return { SecretString: SECRET };
      });
      const dynamo = mockClient(ddb.DynamoDBClient);
      const conditionFailed = () => new ddb.ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      dynamo.on(ddb.PutItemCommand).callsFake(async (input: DynamoDB.PutItemCommandInput) => {
        const pk = input.Item!.pk.S!;
        if (input.ConditionExpression?.includes('attribute_not_exists') && table.has(pk)) throw conditionFailed();
        table.set(pk, input.Item!);
        return {};
      });
      dynamo.on(ddb.UpdateItemCommand).callsFake(async (input: DynamoDB.UpdateItemCommandInput) => {
        const pk = input.Key!.pk.S!;
        const rank = Number(input.ExpressionAttributeValues![':rank'].N);
        const existing = table.get(pk);
        if (existing && Number(existing.statusRank.N) >= rank) throw conditionFailed();
        const values = input.ExpressionAttributeValues!;
        const item: Item = {
          pk: { S: pk },
          statusRank: { N: String(rank) },
          ...Object.fromEntries(Object.entries(input.ExpressionAttributeNames ?? {})
            .map(([placeholder, name]) => [name, values[`:${placeholder.slice(1)}`]]).filter(([, v]) => v !== undefined)),
        };
        if (rank === 1) item.queuedFleet = values[':fleet'] ?? item.fleet;
        else delete item.queuedFleet;
        table.set(pk, item);
        return {};
      });
      dynamo.on(ddb.QueryCommand).callsFake(async (input: DynamoDB.QueryCommandInput) => {
        const fleet = Object.values(input.ExpressionAttributeValues ?? {})[0]?.S;
        return { Items: [...table.values()].filter((i) => i.queuedFleet?.S === fleet) };
      });
      dynamo.on(ddb.GetItemCommand).callsFake(async (input: DynamoDB.GetItemCommandInput) => ({ Item: table.get(input.Key!.pk.S!) }));
      const { handler } = require('../../../lambda/webhook.lambda');
      /* eslint-enable @typescript-eslint/no-require-imports */
      loaded = { handler, table, secretReads: () => reads };
    });
  } finally {
    if (previous === undefined) delete process.env[ENV_FLEET_CONFIG];
    else process.env[ENV_FLEET_CONFIG] = previous;
  }
  return loaded!;
}

let deliveryNumber = 0;
/** A Function URL event as GitHub's delivery produces it, signed with `secret`. */
interface DeliveryOptions {
  secret?: string;
  event?: string;
  id?: string;
  base64?: boolean;
  signature?: string;
}

function functionUrlEvent(body: string, options: DeliveryOptions = {}): APIGatewayProxyEventV2 {
  const signature = options.signature ?? `sha256=${createHmac('sha256', options.secret ?? SECRET).update(body).digest('hex')}`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/abc123',
      'x-github-event': options.event ?? 'workflow_job',
      'x-github-delivery': options.id ?? `72d3162e-cc78-11e3-81ab-${String(++deliveryNumber).padStart(12, '0')}`,
      'x-hub-signature-256': signature,
    },
    requestContext: { http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '140.82.115.1', userAgent: 'GitHub-Hookshot' } } as any,
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

let output: OutputCapture;
beforeEach(() => {
  output = new OutputCapture().start();
});
afterEach(() => output.stop());

describe('webhook function (Function URL) end to end', () => {
  test('a signed queued delivery: 202, the job stored, queued jobs and demand published at 1-second resolution', async () => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 11, labels: ['self-hosted', 'linux', 'x64'] })), lambdaContext('webhook'));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body!)).toEqual({ message: 'job 11 queued: fleet linux' });
    expect(fn.table.get('job#11')?.status).toEqual({ S: 'queued' });
    const demand = output.metrics().find((l) => 'RunnerDemand' in l)!;
    expect(demand.Fleet).toBe('linux');
    // 1 queued + idle target 1 - 0 idle (no count stored yet)
    expect(demand.RunnerDemand).toBe(2);
    const definitions = demand._aws.CloudWatchMetrics[0].Metrics;
    expect(definitions).toEqual(expect.arrayContaining([expect.objectContaining({ Name: 'RunnerDemand', StorageResolution: 1 })]));
  });

  test('a body the Function URL base64-encoded is verified over its raw bytes', async () => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 12 }), { base64: true }));
    expect(response.statusCode).toBe(202);
  });

  test.each([
    ['signed with another secret', { secret: 'not the secret' }, 401],
    ['a signature of the wrong shape', { signature: 'sha1=0123' }, 401],
  ])('%s: %s, nothing stored', async (_name, options, statusCode) => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload(), options));
    expect(response.statusCode).toBe(statusCode);
    expect(fn.table.size).toBe(0);
    expect(output.metric('WebhookRejected', '(none)')).toBe(1);
  });

  test('a replayed delivery (same X-GitHub-Delivery) is dropped', async () => {
    const fn = loadWebhook();
    const event = functionUrlEvent(workflowJobPayload({ id: 13 }), { id: 'replayed' });
    expect((await fn.handler(event)).statusCode).toBe(202);
    const again = await fn.handler(event);
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body!).message).toBe('duplicate delivery ignored');
  });

  test('the webhook secret is read once per execution environment, not per delivery', async () => {
    const fn = loadWebhook();
    for (let id = 20; id < 25; id++) {
      await fn.handler(functionUrlEvent(workflowJobPayload({ id })));
    }
    expect(fn.secretReads()).toBe(1);
    expect(fn.table.size).toBe(10);
  });

  test('queued then in_progress: the queue empties, the time to start is published in seconds', async () => {
    const fn = loadWebhook();
    await fn.handler(functionUrlEvent(workflowJobPayload({ id: 30 })));
    await fn.handler(functionUrlEvent(workflowJobPayload({
      id: 30, action: 'in_progress', startedAt: '2026-11-24T10:00:09Z', runnerName: 'linux-i-0123456789abcdef0',
    })));
    expect(fn.table.get('job#30')?.status).toEqual({ S: 'in_progress' });
    expect(output.metric('JobStartSeconds', 'linux')).toBe(9);
    const queued = output.metrics().filter((l) => 'QueuedJobs' in l).map((l) => l.QueuedJobs);
    expect(queued).toEqual([1, 0]);
  });

  test('no secret value reaches the logs', async () => {
    const fn = loadWebhook();
    await fn.handler(functionUrlEvent(workflowJobPayload(), { secret: 'wrong' }));
    await fn.handler(functionUrlEvent(workflowJobPayload()));
    expect(output.text()).not.toContain(SECRET);
  });
});
