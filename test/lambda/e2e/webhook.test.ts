/**
 * The webhook function end to end: the real entry point and adapters (signature check with
 * @octokit/webhooks-methods, the DynamoDB job store, the Auto Scaling port, Powertools EMF), Function URL
 * events signed with HMAC-SHA256 as GitHub signs them; Secrets Manager, DynamoDB and Auto Scaling through
 * aws-sdk-client-mock, the table kept in a Map with the conditional writes the adapter asks for.
 */
import { createHmac } from 'crypto';
import type * as AutoScaling from '@aws-sdk/client-auto-scaling';
import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../../src/contract';
import { fleetEntry, runtimeConfig, workflowJobPayload } from '../fixtures';
import { DescribedGroup, describeGroups, lambdaContext, OutputCapture } from './harness';

const SECRET = 'a webhook secret of forty characters....';
const config: FleetRuntimeConfig = {
  ...runtimeConfig([fleetEntry({ name: 'linux', idleTarget: 1, directScaleOut: true })]),
  webhook: { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf', maxBodyBytes: 65536 },
};

type Item = Record<string, DynamoDB.AttributeValue>;

interface LoadedWebhook {
  readonly handler: (event: APIGatewayProxyEventV2, context?: object) => Promise<{ statusCode?: number; body?: string }>;
  readonly table: Map<string, Item>;
  readonly secretReads: () => number;
  /** The fleet's group: desired capacity 1 of 0..10 until SetDesiredCapacity changes it. */
  readonly group: DescribedGroup;
  readonly autoScaling: AwsStub<any, any, any>;
  readonly as: typeof AutoScaling;
}

/** A fresh execution environment of lambda/webhook.lambda.ts. */
function loadWebhook(withConfig: FleetRuntimeConfig = config): LoadedWebhook {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(withConfig);
  const group: DescribedGroup = { name: 'linux-asg', desired: 1 };
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
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      const autoScaling = mockClient(as.AutoScalingClient);
      describeGroups(autoScaling, as, [group]);
      const { handler } = require('../../../lambda/webhook.lambda');
      /* eslint-enable @typescript-eslint/no-require-imports */
      loaded = { handler, table, secretReads: () => reads, group, autoScaling, as };
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
  test('a signed queued delivery: 202, the job stored, the desired capacity raised to the need, the gap left (0) published at 1-second resolution', async () => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 11, labels: ['self-hosted', 'linux', 'x64'] })), lambdaContext('webhook'));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body!)).toEqual({ message: 'job 11 queued: fleet linux' });
    expect(fn.table.get('job#11')?.status).toEqual({ S: 'queued' });
    // need = 1 queued + 0 busy + idle target 1 = 2; desired was 1.
    // The group read, and read back once after the raise (a crossing call would be undone).
    expect(fn.autoScaling.commandCalls(fn.as.DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input))
      .toEqual([{ AutoScalingGroupNames: ['linux-asg'] }, { AutoScalingGroupNames: ['linux-asg'] }]);
    expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand).map((c) => c.args[0].input))
      .toEqual([{ AutoScalingGroupName: 'linux-asg', DesiredCapacity: 2, HonorCooldown: false }]);
    const line = output.metrics().find((l) => 'CapacityGap' in l)!;
    expect(line.Fleet).toBe('linux');
    expect(line.CapacityGap).toBe(0);
    expect(line.CapacityNeeded).toBe(2);
    expect(line._aws.CloudWatchMetrics[0].Metrics).toEqual(expect.arrayContaining([
      expect.objectContaining({ Name: 'CapacityGap', StorageResolution: 1 }),
      expect.objectContaining({ Name: 'CapacityNeeded', StorageResolution: 1 }),
    ]));
  });

  test('without the direct path no SetDesiredCapacity call: the whole gap is published for the alarm', async () => {
    const fn = loadWebhook({ ...config, fleets: config.fleets.map((f) => ({ ...f, directScaleOut: false })) });
    await fn.handler(functionUrlEvent(workflowJobPayload({ id: 14 })));
    await fn.handler(functionUrlEvent(workflowJobPayload({ id: 15 })));
    expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand)).toEqual([]);
    expect(output.metrics().filter((l) => 'CapacityGap' in l).map((l) => l.CapacityGap)).toEqual([1, 2]);
  });

  test('SetDesiredCapacity refused (access denied): the delivery still succeeds, the gap goes to the alarm, a warning is logged', async () => {
    const fn = loadWebhook();
    fn.autoScaling.on(fn.as.SetDesiredCapacityCommand).rejects(Object.assign(new Error('not authorized to perform: autoscaling:SetDesiredCapacity'), { name: 'AccessDenied' }));
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 16 })));
    expect(response.statusCode).toBe(202);
    expect(output.metric('CapacityGap', 'linux')).toBe(1);
    expect(output.logs().filter((l) => l.level === 'WARN')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('could not be raised'), fleet: 'linux', target: 2, errorKind: 'AccessDenied' }),
    ]);
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
    // One raise per queued job: 1 + 1, 2 + 1, ... 5 + 1.
    expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand).map((c) => c.args[0].input.DesiredCapacity)).toEqual([2, 3, 4, 5, 6]);
    expect(fn.group.desired).toBe(6);
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
