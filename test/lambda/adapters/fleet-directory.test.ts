import { AutoScalingClient, DescribeAutoScalingInstancesCommand, DescribeWarmPoolCommand } from '@aws-sdk/client-auto-scaling';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createFleetDirectory } from '../../../lambda/adapters/fleet-directory';
import { instanceAgentLambdaHandler } from '../../../lambda/adapters/instance-agent-entry';
import { lambdaHandler } from '../../../lambda/adapters/lambda-entry';
import type { HandlerDeps } from '../../../lambda/handlers/deps';
import type { FleetDirectoryPort } from '../../../lambda/ports';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, FleetRuntimeEntry } from '../../../src/contract';
import { FLEET_ENTRY_SCHEMA } from '../../../src/contract/runtime-schema';
import { toWire } from '../../../src/lifecycle/runtime-config';
import { fleetEntry, lifecycleEvent, runtimeConfig } from '../fixtures';

const PATH = '/github-runner-fleet/Plane-Runners-ABCD1234/fleets/';
const ssmMock = mockClient(SSMClient);
const autoScalingMock = mockClient(AutoScalingClient);
beforeEach(() => {
  ssmMock.reset();
  autoScalingMock.reset();
  // The agent finds the caller's instance in no group: it answers, and the test counts the directory's reads.
  autoScalingMock.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
  autoScalingMock.on(DescribeWarmPoolCommand).resolves({ Instances: [] });
});

describe('the fleet directory through SSM Parameter Store', () => {
  test('reads every page of the path, one level, as name and value', async () => {
    ssmMock.on(GetParametersByPathCommand, { NextToken: undefined }).resolves({
      Parameters: [{ Name: `${PATH}a`, Value: '{"a":1}' }, { Name: `${PATH}b`, Value: '{"b":2}' }],
      NextToken: 'page-2',
    });
    ssmMock.on(GetParametersByPathCommand, { NextToken: 'page-2' }).resolves({ Parameters: [{ Name: `${PATH}c`, Value: '{"c":3}' }] });
    const directory = createFleetDirectory(new SSMClient({ region: 'eu-west-1' }));
    expect(await directory.readParameters(PATH)).toEqual([
      { name: `${PATH}a`, value: '{"a":1}' },
      { name: `${PATH}b`, value: '{"b":2}' },
      { name: `${PATH}c`, value: '{"c":3}' },
    ]);
    const inputs = ssmMock.commandCalls(GetParametersByPathCommand).map((c) => c.args[0].input);
    // The path without its trailing slash; not recursive (the control plane's published attributes are elsewhere); no decryption.
    expect(inputs).toEqual([
      { Path: PATH.replace(/\/$/, ''), Recursive: false, MaxResults: 10, NextToken: undefined },
      { Path: PATH.replace(/\/$/, ''), Recursive: false, MaxResults: 10, NextToken: 'page-2' },
    ]);
  });

  test('an SSM error reaches the caller (which serves the fleets read last)', async () => {
    ssmMock.on(GetParametersByPathCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    await expect(createFleetDirectory(new SSMClient({ region: 'eu-west-1' })).readParameters(PATH)).rejects.toThrow('User is not authorized');
  });
});

/** A fleet of another stack, and its parameter as the construct writes it. */
function remote(name: string): { fleet: FleetRuntimeEntry; parameter: { name: string; value: string } } {
  const fleet = fleetEntry({ name, autoScalingGroupName: `github-runner-fleet-${name}`, fleetLabel: `fleet-${name}`, labels: ['linux', `fleet-${name}`], instanceRoleName: `${name}-role` });
  return { fleet, parameter: { name: `${PATH}${name}`, value: JSON.stringify(toWire(FLEET_ENTRY_SCHEMA, fleet, '')) } };
}

function fakeDirectory(parameters: Array<{ name: string; value: string }>) {
  const state = { parameters, reads: 0 };
  const port: FleetDirectoryPort = { readParameters: async () => { state.reads++; return state.parameters; } };
  return { state, port };
}

const CONTEXT = { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:registration', getRemainingTimeInMillis: () => 60_000 };

describe('the entry points serve the fleets of the directory beside the environment\'s', () => {
  const config: FleetRuntimeConfig = { ...runtimeConfig([fleetEntry()]), fleetDirectory: PATH };
  const env = { [ENV_FLEET_CONFIG]: JSON.stringify(config) };

  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-12-02T03:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  test('the handler is built with the directory\'s fleets, and rebuilt only when they change', async () => {
    const directory = fakeDirectory([remote('team-a').parameter]);
    const builds: FleetRuntimeConfig[] = [];
    const handler = lambdaHandler((deps: HandlerDeps) => {
      builds.push(deps.config);
      return async () => deps.config.fleets.map((f) => f.name);
    }, { env, directory: directory.port });
    const event = lifecycleEvent({ group: 'github-runner-fleet-team-a' });
    expect(await handler(event, CONTEXT)).toEqual([config.fleets[0].name, 'team-a']);
    expect(await handler(event, CONTEXT)).toEqual([config.fleets[0].name, 'team-a']);
    expect(builds).toHaveLength(1);
    expect(directory.state.reads).toBe(1);
    // A minute later the directory is read again; a new fleet rebuilds the handler.
    directory.state.parameters = [remote('team-a').parameter, remote('team-b').parameter];
    jest.advanceTimersByTime(60_000);
    expect(await handler(event, CONTEXT)).toEqual([config.fleets[0].name, 'team-a', 'team-b']);
    expect(builds).toHaveLength(2);
  });

  test('an event of a group no served fleet has reads the directory again at once (a fleet deployed a moment ago)', async () => {
    const directory = fakeDirectory([]);
    const handler = lambdaHandler((deps: HandlerDeps) => async () => deps.config.fleets.map((f) => f.name), { env, directory: directory.port });
    expect(await handler(lifecycleEvent({ group: config.fleets[0].autoScalingGroupName }), CONTEXT)).toEqual([config.fleets[0].name]);
    directory.state.parameters = [remote('new').parameter];
    jest.advanceTimersByTime(6_000);
    // A known group within the minute: nothing read.
    expect(await handler(lifecycleEvent({ group: config.fleets[0].autoScalingGroupName }), CONTEXT)).toEqual([config.fleets[0].name]);
    expect(directory.state.reads).toBe(1);
    // The new fleet's group: read again.
    expect(await handler(lifecycleEvent({ group: 'github-runner-fleet-new' }), CONTEXT)).toEqual([config.fleets[0].name, 'new']);
    expect(directory.state.reads).toBe(2);
  });

  test('without a directory in the configuration, nothing is read', async () => {
    const directory = fakeDirectory([remote('team-a').parameter]);
    const plain = { [ENV_FLEET_CONFIG]: JSON.stringify(runtimeConfig([fleetEntry()])) };
    const handler = lambdaHandler((deps: HandlerDeps) => async () => deps.config.fleets.length, { env: plain, directory: directory.port });
    expect(await handler(lifecycleEvent({ group: 'github-runner-fleet-team-a' }), CONTEXT)).toBe(1);
    expect(directory.state.reads).toBe(0);
  });

  test('the instance agent reads the directory again for a caller role no served fleet has', async () => {
    const directory = fakeDirectory([]);
    const agent = instanceAgentLambdaHandler({ env, directory: directory.port });
    const call = (role: string) => agent({
      body: JSON.stringify({ action: 'whoami' }),
      requestContext: { http: { method: 'POST' }, authorizer: { iam: { userArn: `arn:aws:sts::123456789012:assumed-role/${role}/i-0123456789abcdef0`, accountId: '123456789012' } } },
    } as any, { ...CONTEXT, invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:agent' });
    const answer = await call(config.fleets[0].instanceRoleName);
    expect(answer.statusCode).toBeGreaterThanOrEqual(200);
    expect(directory.state.reads).toBe(1);
    directory.state.parameters = [remote('new').parameter];
    jest.advanceTimersByTime(6_000);
    await call(config.fleets[0].instanceRoleName);
    expect(directory.state.reads).toBe(1);
    await call('new-role');
    expect(directory.state.reads).toBe(2);
  });
});
