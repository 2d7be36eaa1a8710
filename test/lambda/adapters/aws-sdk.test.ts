/**
 * The AWS SDK client packages are loaded lazily: a function's cold start loads none, and each is required
 * on its first use. Module loading is observed through `require.cache`, which inside
 * `jest.isolateModules` lists the isolated registry only (a fresh execution environment).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as AutoScaling from '@aws-sdk/client-auto-scaling';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createAutoScalingPort } from '../../../lambda/adapters/auto-scaling';
import type * as AwsSdkModule from '../../../lambda/adapters/aws-sdk';
import { lazy } from '../../../lambda/adapters/aws-sdk';
import { createJobStore } from '../../../lambda/adapters/job-store';
import type * as LambdaEntry from '../../../lambda/adapters/lambda-entry';
import { createSecretsPort } from '../../../lambda/adapters/secrets';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../../src/contract';
import { ACCOUNT, lambdaContext, OutputCapture } from '../e2e/harness';
import { fleetEntry, runtimeConfig } from '../fixtures';

const ROLE = 'linux-instance-role';
const ME = 'i-0123456789abcdef0';
/** A control plane with a webhook: every function of the stack can start with it. */
const config: FleetRuntimeConfig = {
  ...runtimeConfig([fleetEntry({ name: 'linux', instanceRoleName: ROLE })]),
  webhook: { tableName: 'jobs', secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-AbCdEf', maxBodyBytes: 65536 },
};

/** The @aws-sdk/client-* packages in the active module registry, sorted. */
function sdkClientsLoaded(): string[] {
  const found = new Set<string>();
  for (const file of Object.keys(require.cache)) {
    const match = /[\\/]node_modules[\\/]@aws-sdk[\\/](client-[a-z0-9-]+)[\\/]/.exec(file);
    if (match) {
      found.add(match[1]);
    }
  }
  return [...found].sort();
}

/** Runs `fn` in a fresh module registry with `config` in the environment. */
async function inFreshEnvironment(fn: () => Promise<void> | void): Promise<void> {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(config);
  try {
    await jest.isolateModulesAsync(async () => {
      await fn();
    });
  } finally {
    if (previous === undefined) delete process.env[ENV_FLEET_CONFIG];
    else process.env[ENV_FLEET_CONFIG] = previous;
  }
}

let output: OutputCapture;
beforeEach(() => {
  output = new OutputCapture().start();
});
afterEach(() => output.stop());

describe('the SDK packages (aws-sdk.ts)', () => {
  test('a package is required on its first use, not when the module loads, and only that one', async () => {
    await inFreshEnvironment(() => {
      const sdk = require('../../../lambda/adapters/aws-sdk') as typeof AwsSdkModule;
      expect(sdkClientsLoaded()).toEqual([]);

      const dynamo = sdk.dynamoDbSdk();
      expect(sdkClientsLoaded()).toEqual(['client-dynamodb']);
      expect(dynamo).toBe(require('@aws-sdk/client-dynamodb'));
      expect(sdk.dynamoDbSdk()).toBe(dynamo);

      sdk.autoScalingSdk();
      expect(sdkClientsLoaded()).toEqual(['client-auto-scaling', 'client-dynamodb']);
    });
  });

  test('a package loaded before the module is the very instance it uses, even when first used later', () => {
    let sm: typeof SecretsManager | undefined;
    let sdk: typeof AwsSdkModule | undefined;
    jest.isolateModules(() => {
      sm = require('@aws-sdk/client-secrets-manager') as typeof SecretsManager;
      sdk = require('../../../lambda/adapters/aws-sdk') as typeof AwsSdkModule;
    });
    // Outside the registry both were loaded in: requiring now would give another instance, which a
    // mock of the first one's client class would not cover.
    expect(require('@aws-sdk/client-secrets-manager')).not.toBe(sm);
    expect(sdk!.secretsManagerSdk()).toBe(sm);
  });

  test('lazy: made on the first call only, then kept', () => {
    const make = jest.fn(() => ({ made: true }));
    const get = lazy(make);
    expect(make).not.toHaveBeenCalled();
    const first = get();
    expect(get()).toBe(first);
    expect(make).toHaveBeenCalledTimes(1);
  });
});

describe('ports given a lazy client build it on their first call', () => {
  const mocks: Array<{ restore(): void }> = [];
  afterEach(() => mocks.splice(0).forEach((m) => m.restore()));
  test('Auto Scaling', async () => {
    const asMock = mockClient(AutoScalingClient);
    mocks.push(asMock);
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    const make = jest.fn(() => new AutoScalingClient({ region: 'eu-west-1' }));
    const port = createAutoScalingPort(lazy(make));
    expect(make).not.toHaveBeenCalled();
    await expect(port.describeCapacity('linux-asg')).rejects.toThrow('Auto Scaling group linux-asg not found');
    await expect(port.listGroupInstances('linux-asg')).rejects.toThrow('not found');
    expect(make).toHaveBeenCalledTimes(1);
    expect(asMock.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(2);
  });

  test('Secrets Manager', async () => {
    const smMock = mockClient(SecretsManagerClient);
    mocks.push(smMock);
    smMock.on(ListSecretsCommand).resolves({ SecretList: [] });
    const make = jest.fn(() => new SecretsManagerClient({ region: 'eu-west-1' }));
    const port = createSecretsPort(lazy(make));
    expect(make).not.toHaveBeenCalled();
    expect(await port.listInstanceSecrets('github-runner-fleet/linux/')).toEqual([]);
    expect(await port.listInstanceSecrets('github-runner-fleet/linux/')).toEqual([]);
    expect(make).toHaveBeenCalledTimes(1);
  });

  test('the job table', async () => {
    const ddbMock = mockClient(DynamoDBClient);
    mocks.push(ddbMock);
    ddbMock.on(QueryCommand).resolves({ Items: [] });
    const make = jest.fn(() => new DynamoDBClient({ region: 'eu-west-1' }));
    const store = createJobStore(lazy(make), 'jobs');
    expect(make).not.toHaveBeenCalled();
    expect(await store.queuedJobs('linux')).toEqual([]);
    expect(make).toHaveBeenCalledTimes(1);
  });
});

describe('cold start of every function loads no SDK package', () => {
  test.each(['registration', 'deregistration', 'idle-metric', 'webhook', 'instance-agent'])('%s', async (name) => {
    await inFreshEnvironment(() => {
      const entry = require(`../../../lambda/${name}.lambda`) as { handler: unknown };
      expect(typeof entry.handler).toBe('function');
      expect(sdkClientsLoaded()).toEqual([]);
    });
  });
});

describe('what each function loads on its first calls', () => {
  test('the instance agent: Auto Scaling only, never Secrets Manager or DynamoDB', async () => {
    await inFreshEnvironment(async () => {
      const { handler } = require('../../../lambda/instance-agent.lambda') as { handler: (event: unknown, context: unknown) => Promise<{ statusCode: number }> };
      expect(sdkClientsLoaded()).toEqual([]);
      // The package the agent's first call will load, here first, to mock its client.
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      const autoScaling = mockClient(as.AutoScalingClient);
      autoScaling.on(as.DescribeAutoScalingInstancesCommand).resolves({
        AutoScalingInstances: [{
          InstanceId: ME, AutoScalingGroupName: 'linux-asg', AvailabilityZone: 'eu-west-1a', LifecycleState: 'InService', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: false,
        }],
      });
      autoScaling.on(as.DescribeWarmPoolCommand).resolves({ Instances: [] });
      autoScaling.on(as.SetInstanceProtectionCommand).resolves({});
      const userArn = `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${ME}`;
      const response = await handler({
        body: '{"action":"protect","protected":true}',
        isBase64Encoded: false,
        requestContext: { http: { method: 'POST' }, authorizer: { iam: { userArn, accountId: ACCOUNT } } },
      }, lambdaContext('instance-agent'));
      expect(response.statusCode).toBe(200);
      expect(autoScaling.commandCalls(as.SetInstanceProtectionCommand)).toHaveLength(1);
      expect(sdkClientsLoaded()).toEqual(['client-auto-scaling']);
    });
  });

  test('registration and deregistration: no job store, even with a webhook, so DynamoDB is never loaded', async () => {
    await inFreshEnvironment(async () => {
      const { coldStart } = require('../../../lambda/adapters/lambda-entry') as typeof LambdaEntry;
      const fresh = require('../../../lambda/adapters/secrets') as typeof import('../../../lambda/adapters/secrets');
      // As registration.lambda.ts and deregistration.lambda.ts compose it.
      const deps = coldStart({ secretsPort: fresh.createSecretsPort });
      expect(deps.jobs).toBeUndefined();
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      mockClient(as.AutoScalingClient).on(as.DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
      const sm = require('@aws-sdk/client-secrets-manager') as typeof SecretsManager;
      mockClient(sm.SecretsManagerClient).on(sm.ListSecretsCommand).resolves({ SecretList: [] });
      expect(await deps.autoScaling.groupOfInstance(ME)).toBeUndefined();
      expect(await deps.secrets.listInstanceSecrets('github-runner-fleet/linux/')).toEqual([]);
      expect(sdkClientsLoaded()).toEqual(['client-auto-scaling', 'client-secrets-manager']);
    });
  });

  test('idle-metric: no per-instance secrets port (its bundle holds none); a call to it is refused', async () => {
    await inFreshEnvironment(async () => {
      const { coldStart } = require('../../../lambda/adapters/lambda-entry') as typeof LambdaEntry;
      const deps = coldStart();
      await expect(deps.secrets.listInstanceSecrets('github-runner-fleet/linux/')).rejects.toThrow('this function has no per-instance secrets port (listInstanceSecrets)');
      expect(sdkClientsLoaded()).toEqual([]);
    });
  });

  test('idle-metric with a webhook: the job store, whose DynamoDB package is loaded on its first call', async () => {
    await inFreshEnvironment(async () => {
      const { coldStart } = require('../../../lambda/adapters/lambda-entry') as typeof LambdaEntry;
      const { jobTable } = require('../../../lambda/adapters/job-store') as typeof import('../../../lambda/adapters/job-store');
      const deps = coldStart({ jobStore: jobTable });
      expect(deps.jobs).toBeDefined();
      expect(sdkClientsLoaded()).toEqual([]);
      const ddb = require('@aws-sdk/client-dynamodb') as typeof DynamoDB;
      const table = mockClient(ddb.DynamoDBClient);
      table.on(ddb.QueryCommand).resolves({ Items: [] });
      expect(await deps.jobs!.queuedJobs('linux')).toEqual([]);
      expect(table.commandCalls(ddb.QueryCommand)[0].args[0].input).toMatchObject({ TableName: 'jobs' });
      expect(sdkClientsLoaded()).toEqual(['client-dynamodb']);
    });
  });

  test('without a webhook there is no job store, whatever the function asks for', () => {
    jest.isolateModules(() => {
      const { coldStart } = require('../../../lambda/adapters/lambda-entry') as typeof LambdaEntry;
      const { jobTable } = require('../../../lambda/adapters/job-store') as typeof import('../../../lambda/adapters/job-store');
      const deps = coldStart({ env: { [ENV_FLEET_CONFIG]: JSON.stringify(runtimeConfig()) }, jobStore: jobTable });
      expect(deps.jobs).toBeUndefined();
    });
  });
});
