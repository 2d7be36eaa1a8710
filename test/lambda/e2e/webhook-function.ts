/**
 * A fresh execution environment of lambda/webhook.lambda.ts (Secrets Manager, DynamoDB and Auto Scaling
 * through aws-sdk-client-mock, the table a {@link FakeJobTable}), and Function URL events signed as
 * GitHub signs its deliveries.
 */
import { createHmac } from 'crypto';
import type * as AutoScaling from '@aws-sdk/client-auto-scaling';
import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../../src/contract';
import { fleetEntry, runtimeConfig } from '../fixtures';
import { DescribedGroup, describeGroups } from './harness';
import { FakeJobTable, Item, mockJobTable } from './job-table';

export const SECRET = 'a webhook secret of forty characters....';
export const config: FleetRuntimeConfig = {
  ...runtimeConfig([fleetEntry({ name: 'linux', idleTarget: 1, directScaleOut: true })]),
  webhook: { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf', maxBodyBytes: 65536 },
};

export interface LoadedWebhook {
  readonly handler: (event: APIGatewayProxyEventV2, context?: object) => Promise<{ statusCode?: number; body?: string }>;
  readonly table: Map<string, Item>;
  /** The same table, with its fault injection. */
  readonly jobTable: FakeJobTable;
  readonly secretReads: () => number;
  /** The fleet's group: desired capacity 1 of 0..10 until SetDesiredCapacity changes it. */
  readonly group: DescribedGroup;
  readonly autoScaling: AwsStub<any, any, any>;
  readonly as: typeof AutoScaling;
}

/** A fresh execution environment of lambda/webhook.lambda.ts. */
export function loadWebhook(withConfig: FleetRuntimeConfig = config, jobTable = new FakeJobTable()): LoadedWebhook {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(withConfig);
  const group: DescribedGroup = { name: 'linux-asg', desired: 1 };
  const table = jobTable.items;
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
      mockJobTable(ddb, jobTable);
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      const autoScaling = mockClient(as.AutoScalingClient);
      describeGroups(autoScaling, as, [group]);
      const { handler } = require('../../../lambda/webhook.lambda');
      /* eslint-enable @typescript-eslint/no-require-imports */
      loaded = { handler, table, jobTable, secretReads: () => reads, group, autoScaling, as };
    });
  } finally {
    if (previous === undefined) delete process.env[ENV_FLEET_CONFIG];
    else process.env[ENV_FLEET_CONFIG] = previous;
  }
  return loaded!;
}

let deliveryNumber = 0;
/** A Function URL event as GitHub's delivery produces it, signed with `secret`. */
export interface DeliveryOptions {
  secret?: string;
  event?: string;
  id?: string;
  base64?: boolean;
  signature?: string;
}

export function functionUrlEvent(body: string, options: DeliveryOptions = {}): APIGatewayProxyEventV2 {
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

