/**
 * Loads a real entry point (lambda/<name>.lambda.ts) in a fresh module registry, as a new execution
 * environment would: its cold start builds the real adapters. GitHub is the fake server over HTTP; the
 * AWS clients of that registry are mocked with aws-sdk-client-mock. Everything the function writes to
 * stdout/stderr (Powertools logs and EMF metrics) is captured.
 */
import type * as AutoScaling from '@aws-sdk/client-auto-scaling';
import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';
import type { GitHubTuning, InvocationContext } from '../../../lambda/adapters/lambda-entry';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../../src/contract';
import { FakeGitHubServer, startFakeGitHub } from '../../fixtures/fake-github-server';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

export interface LoadedFunction {
  readonly handler: (event: unknown, context: InvocationContext) => Promise<any>;
  /** The SDK modules of the function's registry (their command classes match its calls). */
  readonly sm: typeof SecretsManager;
  readonly as: typeof AutoScaling;
  readonly secrets: AwsStub<any, any, any>;
  readonly autoScaling: AwsStub<any, any, any>;
}

export type EntryPoint = 'registration' | 'deregistration' | 'idle-metric';

/** Short GitHub timings for fault tests: 50 ms back-off base, 400 ms per attempt. */
export const FAST: GitHubTuning = { retryBaseMs: 50, requestTimeoutMs: 400 };

/**
 * A fresh execution environment of `entry` with `config` in its environment. `credentials` is what
 * GetSecretValue answers (a function to make it fail or change). CreateSecret, DeleteSecret,
 * CompleteLifecycleAction and RecordLifecycleActionHeartbeat succeed unless a test says otherwise.
 *
 * Without `tuning`, the entry point module itself is loaded (production timings). With it, the same
 * composition (`lambdaHandler` around the entry point's handler factory) is built with those timings.
 */
export function loadFunction(entry: EntryPoint, config: FleetRuntimeConfig, credentials: () => string, tuning?: GitHubTuning): LoadedFunction {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(config);
  let loaded: LoadedFunction | undefined;
  try {
    jest.isolateModules(() => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const sm = require('@aws-sdk/client-secrets-manager') as typeof SecretsManager;
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      const secrets = mockClient(sm.SecretsManagerClient);
      const autoScaling = mockClient(as.AutoScalingClient);
      secrets.on(sm.GetSecretValueCommand).callsFake(async () => ({ SecretString: credentials() }));
      secrets.on(sm.CreateSecretCommand).resolves({});
      secrets.on(sm.DeleteSecretCommand).resolves({});
      autoScaling.on(as.CompleteLifecycleActionCommand).resolves({});
      autoScaling.on(as.RecordLifecycleActionHeartbeatCommand).resolves({});
      const handler = tuning ? tunedHandler(entry, tuning) : require(`../../../lambda/${entry}.lambda`).handler;
      /* eslint-enable @typescript-eslint/no-require-imports */
      loaded = { handler, sm, as, secrets, autoScaling };
    });
  } finally {
    if (previous === undefined) delete process.env[ENV_FLEET_CONFIG];
    else process.env[ENV_FLEET_CONFIG] = previous;
  }
  return loaded!;
}

/** The entry point's composition with other GitHub timings (call inside the isolated registry). */
function tunedHandler(entry: EntryPoint, github: GitHubTuning): LoadedFunction['handler'] {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { lambdaHandler } = require('../../../lambda/adapters/lambda-entry') as typeof import('../../../lambda/adapters/lambda-entry');
  const { createSecretsPort: secretsPort } = require('../../../lambda/adapters/secrets') as typeof import('../../../lambda/adapters/secrets');
  switch (entry) {
    case 'registration':
      return lambdaHandler(require('../../../lambda/handlers/registration').createRegistrationHandler, { github, secretsPort });
    case 'deregistration':
      return lambdaHandler(require('../../../lambda/handlers/deregistration').createDeregistrationHandler, { github, secretsPort });
    case 'idle-metric': {
      const { createIdleMetricHandler } = require('../../../lambda/handlers/idle-metric');
      return lambdaHandler((deps) => {
        const publish = createIdleMetricHandler(deps);
        return () => publish();
      }, { github });
    }
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** An Auto Scaling group as the capacity controller reads it (DescribeAutoScalingGroups). */
export interface DescribedGroup {
  readonly name: string;
  desired: number;
  readonly min?: number;
  readonly max?: number;
  readonly instances?: ReadonlyArray<{ readonly id: string; readonly state?: string; readonly protected?: boolean }>;
}

/**
 * Answers DescribeAutoScalingGroups with `groups` (by the names asked for; a name not listed is a group
 * that does not exist) and SetDesiredCapacity by setting the group's `desired`, as Auto Scaling would.
 */
export function describeGroups(stub: AwsStub<any, any, any>, as: typeof AutoScaling, groups: DescribedGroup[]): void {
  stub.on(as.DescribeAutoScalingGroupsCommand).callsFake(async (input: AutoScaling.DescribeAutoScalingGroupsCommandInput) => ({
    AutoScalingGroups: groups.filter((g) => input.AutoScalingGroupNames?.includes(g.name)).map((g) => ({
      AutoScalingGroupName: g.name,
      MinSize: g.min ?? 0,
      MaxSize: g.max ?? 10,
      DesiredCapacity: g.desired,
      DefaultCooldown: 300,
      AvailabilityZones: [`${REGION}a`],
      HealthCheckType: 'EC2',
      CreatedTime: new Date('2026-01-01T00:00:00Z'),
      Instances: (g.instances ?? []).map((i) => ({
        InstanceId: i.id,
        LifecycleState: (i.state ?? 'InService') as 'InService',
        ProtectedFromScaleIn: i.protected ?? false,
        AvailabilityZone: `${REGION}a`,
        HealthStatus: 'Healthy',
      })),
    })),
  }));
  stub.on(as.SetDesiredCapacityCommand).callsFake(async (input: AutoScaling.SetDesiredCapacityCommandInput) => {
    const group = groups.find((g) => g.name === input.AutoScalingGroupName);
    if (!group) {
      throw Object.assign(new Error(`AutoScalingGroup name not found - ${input.AutoScalingGroupName}`), { name: 'ValidationError' });
    }
    group.desired = input.DesiredCapacity!;
    return {};
  });
}

let requestNumber = 0;

/** A Lambda context with `budgetMs` left at the start of the invocation (the function's timeout). */
export function lambdaContext(functionName: string, budgetMs = 60_000): InvocationContext {
  const deadline = Date.now() + budgetMs;
  return {
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    awsRequestId: `request-${++requestNumber}`,
    functionName,
    functionVersion: '$LATEST',
    memoryLimitInMB: '256',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

/** Captures stdout and stderr; `lines()` parses the JSON lines written so far. */
export class OutputCapture {
  private readonly chunks: string[] = [];
  private readonly spies: jest.SpyInstance[] = [];

  start(): this {
    const capture = ((chunk: string | Uint8Array) => {
      this.chunks.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    this.spies.push(jest.spyOn(process.stdout, 'write').mockImplementation(capture));
    this.spies.push(jest.spyOn(process.stderr, 'write').mockImplementation(capture));
    return this;
  }

  stop(): void {
    this.spies.splice(0).forEach((s) => s.mockRestore());
  }

  text(): string {
    return this.chunks.join('');
  }

  /** Log lines (not metrics). */
  logs(): Array<Record<string, any>> {
    return this.json().filter((l) => !l._aws);
  }

  /** EMF metric lines. */
  metrics(): Array<Record<string, any>> {
    return this.json().filter((l) => l._aws);
  }

  /** The value of a metric for a fleet, summed over every line. */
  metric(name: string, fleet: string): number {
    return this.metrics()
      .filter((l) => l.Fleet === fleet && name in l)
      .reduce((sum, l) => sum + ([] as number[]).concat(l[name]).reduce((a, b) => a + b, 0), 0);
  }

  private json(): Array<Record<string, any>> {
    return this.text().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  }
}

/**
 * Registers, for every test of the file, a fresh fake GitHub server and captured stdout/stderr, handed to
 * `ready`; after each test the server is stopped and must not have failed internally.
 */
export function useFakeGitHub(ready: (server: FakeGitHubServer, output: OutputCapture) => void): void {
  let server: FakeGitHubServer | undefined;
  let output: OutputCapture | undefined;
  beforeEach(async () => {
    server = await startFakeGitHub();
    output = new OutputCapture().start();
    ready(server, output);
  });
  afterEach(async () => {
    output?.stop();
    await server?.stop();
    expect(server?.internalErrors).toEqual([]);
  });
}
