/**
 * The instance agent end to end: the real entry point (lambda/instance-agent.lambda.ts) and adapters,
 * Function URL events (payload 2.0) with the IAM identity Lambda puts in `requestContext.authorizer.iam`
 * after checking the SigV4 signature; Auto Scaling through aws-sdk-client-mock.
 */
import type * as AutoScaling from '@aws-sdk/client-auto-scaling';
import { AwsStub, mockClient } from 'aws-sdk-client-mock';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../../src/contract';
import { programInstaller, programInstallerSha256 } from '../../../src/instances/user-data';
import { fleetEntry, runtimeConfig } from '../fixtures';
import { ACCOUNT, lambdaContext, OutputCapture, REGION } from './harness';

const ROLE = 'GitHubRunnerFleetExample-LinuxInstanceRoleA1B2C3-9ZYX8WVU7T';
const ME = 'i-0123456789abcdef0';
const SIBLING = 'i-0fedcba9876543210';
const config: FleetRuntimeConfig = runtimeConfig([fleetEntry({ name: 'linux', instanceRoleName: ROLE })]);

interface LoadedAgent {
  readonly handler: (event: unknown, context: unknown) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
  readonly autoScaling: AwsStub<any, any, any>;
  readonly as: typeof AutoScaling;
}

/**
 * A fresh execution environment of lambda/instance-agent.lambda.ts (or of another module, such as the
 * built bundle); `groups` answers DescribeAutoScalingInstances.
 */
function loadAgent(groups: Record<string, string> = { [ME]: 'linux-asg', [SIBLING]: 'linux-asg' }, entry = '../../../lambda/instance-agent.lambda'): LoadedAgent {
  const previous = process.env[ENV_FLEET_CONFIG];
  process.env[ENV_FLEET_CONFIG] = JSON.stringify(config);
  let loaded: LoadedAgent | undefined;
  try {
    jest.isolateModules(() => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const as = require('@aws-sdk/client-auto-scaling') as typeof AutoScaling;
      const autoScaling = mockClient(as.AutoScalingClient);
      autoScaling.on(as.DescribeAutoScalingInstancesCommand).callsFake(async (input: AutoScaling.DescribeAutoScalingInstancesCommandInput) => ({
        AutoScalingInstances: (input.InstanceIds ?? []).filter((id) => groups[id]).map((id) => ({
          InstanceId: id, AutoScalingGroupName: groups[id], AvailabilityZone: `${REGION}a`, LifecycleState: 'InService', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: false,
        })),
      }));
      autoScaling.on(as.DescribeWarmPoolCommand).resolves({ Instances: [] });
      autoScaling.on(as.SetInstanceProtectionCommand).resolves({});
      autoScaling.on(as.TerminateInstanceInAutoScalingGroupCommand).resolves({});
      autoScaling.on(as.CompleteLifecycleActionCommand).resolves({});
      autoScaling.on(as.RecordLifecycleActionHeartbeatCommand).resolves({});
      autoScaling.on(as.SetInstanceHealthCommand).resolves({});
      const { handler } = require(entry);
      /* eslint-enable @typescript-eslint/no-require-imports */
      loaded = { handler, autoScaling, as };
    });
  } finally {
    if (previous === undefined) delete process.env[ENV_FLEET_CONFIG];
    else process.env[ENV_FLEET_CONFIG] = previous;
  }
  return loaded!;
}

let requestNumber = 0;
/**
 * A Function URL event as Lambda delivers it for a request signed with the instance profile's
 * credentials: the verified identity in `requestContext.authorizer.iam`.
 */
function functionUrlEvent(body: string, options: { userArn?: string; accountId?: string; method?: string; base64?: boolean; iam?: boolean } = {}) {
  const userArn = options.userArn ?? `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${ME}`;
  const sessionName = userArn.split('/').at(-1);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'host': 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws',
      'user-agent': 'curl/8.5.0',
      'x-amz-date': '20261124T100000Z',
      'x-amz-security-token': 'IQoJb3JpZ2luX2VjE...',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'x-forwarded-for': '10.0.1.23',
      'x-forwarded-proto': 'https',
    },
    requestContext: {
      accountId: options.accountId ?? ACCOUNT,
      apiId: 'abcdefghijklmnopqrstuvwxyz012345',
      ...(options.iam === false ? {} : {
        authorizer: {
          iam: {
            accessKey: 'ASIAEXAMPLEEXAMPLE12',
            accountId: options.accountId ?? ACCOUNT,
            callerId: `AROAEXAMPLEEXAMPLE123:${sessionName}`,
            cognitoIdentity: null,
            principalOrgId: null,
            userArn,
            userId: `AROAEXAMPLEEXAMPLE123:${sessionName}`,
          },
        },
      }),
      domainName: 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz012345',
      http: { method: options.method ?? 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '10.0.1.23', userAgent: 'curl/8.5.0' },
      requestId: `request-${++requestNumber}`,
      routeKey: '$default',
      stage: '$default',
      time: '24/Nov/2026:10:00:00 +0000',
      timeEpoch: 1795514400000,
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

let output: OutputCapture;
beforeEach(() => {
  output = new OutputCapture().start();
});
afterEach(() => output.stop());

const inputs = (fn: LoadedAgent, command: any) => fn.autoScaling.commandCalls(command).map((c) => c.args[0].input);

describe('instance agent (Function URL, AWS_IAM) end to end', () => {
  test('protect: the caller found in its group, then SetInstanceProtection on it; a JSON answer', async () => {
    const fn = loadAgent();
    const response = await fn.handler(functionUrlEvent('{"action":"protect","protected":true}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body)).toEqual({ ok: true, message: `${ME} is now protected from scale-in`, instanceId: ME, fleet: 'linux', protected: true });
    expect(inputs(fn, fn.as.DescribeAutoScalingInstancesCommand)).toEqual([{ InstanceIds: [ME] }]);
    expect(inputs(fn, fn.as.SetInstanceProtectionCommand)).toEqual([{ AutoScalingGroupName: 'linux-asg', InstanceIds: [ME], ProtectedFromScaleIn: true }]);
  });

  test('a body naming a sibling acts on the caller: the sibling is never named to Auto Scaling, and a warning is logged', async () => {
    const fn = loadAgent();
    const response = await fn.handler(functionUrlEvent(JSON.stringify({ action: 'leave', after: 'failure', instanceId: SIBLING })), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(200);
    expect(inputs(fn, fn.as.TerminateInstanceInAutoScalingGroupCommand)).toEqual([{ InstanceId: ME, ShouldDecrementDesiredCapacity: false }]);
    expect(JSON.stringify(fn.autoScaling.calls().map((c) => c.args[0].input))).not.toContain(SIBLING);
    expect(output.logs()).toContainEqual(expect.objectContaining({ level: 'WARN', ignoredFields: ['instanceId'], instanceId: ME, fleet: 'linux' }));
  });

  test.each([
    ['a session of a role that is no fleet\'s', { userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/${SIBLING}` }],
    ['another account', { userArn: `arn:aws:sts::210987654321:assumed-role/${ROLE}/${ME}`, accountId: '210987654321' }],
    ['an IAM user', { userArn: `arn:aws:iam::${ACCOUNT}:user/alice` }],
    ['no IAM identity (a direct invocation with a hand-made event)', { iam: false }],
  ])('%s: 403 and no AWS call at all', async (_name, options) => {
    const fn = loadAgent();
    const response = await fn.handler(functionUrlEvent('{"action":"leave","after":"job"}', options), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body)).toEqual(expect.objectContaining({ ok: false, message: expect.stringMatching(/^the caller is not a runner instance/) }));
    expect(fn.autoScaling.calls()).toHaveLength(0);
  });

  test('leave after a job at the minimum size: the decrement refused by AWS, then terminated without it', async () => {
    const fn = loadAgent();
    fn.autoScaling.on(fn.as.TerminateInstanceInAutoScalingGroupCommand, { ShouldDecrementDesiredCapacity: true }).rejects(Object.assign(new Error(
      'Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group\'s min size constraint. '
      + 'Either set shouldDecrementDesiredCapacity flag to false or lower group\'s min size.'), { name: 'ValidationError' }));
    const response = await fn.handler(functionUrlEvent('{"action":"leave","after":"job"}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual(expect.objectContaining({ ok: true, decremented: false }));
    expect(inputs(fn, fn.as.TerminateInstanceInAutoScalingGroupCommand)).toEqual([
      { InstanceId: ME, ShouldDecrementDesiredCapacity: true },
      { InstanceId: ME, ShouldDecrementDesiredCapacity: false },
    ]);
  });

  test('a warm instance (not listed by DescribeAutoScalingInstances) is found in its fleet\'s warm pool and completes its launch action', async () => {
    const fn = loadAgent({});
    fn.autoScaling.on(fn.as.DescribeWarmPoolCommand).resolves({
      Instances: [{ InstanceId: ME, LifecycleState: 'Warmed:Pending:Wait', AvailabilityZone: `${REGION}a`, HealthStatus: 'Healthy', ProtectedFromScaleIn: false }],
    });
    const response = await fn.handler(functionUrlEvent('{"action":"complete","hook":"launch","result":"CONTINUE"}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(200);
    expect(inputs(fn, fn.as.DescribeWarmPoolCommand)).toEqual([{ AutoScalingGroupName: 'linux-asg' }]);
    expect(inputs(fn, fn.as.CompleteLifecycleActionCommand)).toEqual([
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: LAUNCH_HOOK_NAME, InstanceId: ME, LifecycleActionResult: 'CONTINUE' },
    ]);
  });

  test('an instance of the fleet\'s role in no group and not in the warm pool: 403, no acting call', async () => {
    const fn = loadAgent({});
    const response = await fn.handler(functionUrlEvent('{"action":"unhealthy"}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(403);
    expect(fn.autoScaling.commandCalls(fn.as.SetInstanceHealthCommand)).toHaveLength(0);
  });

  test('protect while terminating: AWS\'s refusal answers 409 with the reason', async () => {
    const fn = loadAgent();
    fn.autoScaling.on(fn.as.SetInstanceProtectionCommand).rejects(Object.assign(
      new Error(`The instance ${ME} is not in InService or EnteringStandby or Standby.`), { name: 'ValidationError' }));
    const response = await fn.handler(functionUrlEvent('{"action":"protect","protected":true}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body)).toEqual(expect.objectContaining({ ok: false, reason: 'already-terminating' }));
  });

  test('a heartbeat for a terminate action that is not waiting: 409 "no such lifecycle action"', async () => {
    const fn = loadAgent();
    fn.autoScaling.on(fn.as.RecordLifecycleActionHeartbeatCommand).rejects(Object.assign(
      new Error(`No active Lifecycle Action found with instance ID ${ME}`), { name: 'ValidationError' }));
    const response = await fn.handler(functionUrlEvent('{"action":"heartbeat","hook":"terminate"}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(409);
    expect(inputs(fn, fn.as.RecordLifecycleActionHeartbeatCommand)).toEqual([{ AutoScalingGroupName: 'linux-asg', LifecycleHookName: TERMINATE_HOOK_NAME, InstanceId: ME }]);
    expect(JSON.parse(response.body).message).toMatch(/^no such lifecycle action/);
  });

  test('the built bundle serves the programs the user data pins, from the copy beside it', async () => {
    // The artifact the control plane deploys (assets/lambda/instance-agent.lambda/index.js), not the sources.
    const fn = loadAgent(undefined, '../../../assets/lambda/instance-agent.lambda/index.js');
    const response = await fn.handler(functionUrlEvent('{"action":"programs"}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body);
    expect(body).toEqual({ ok: true, message: `the programs ${programInstallerSha256()}`, instanceId: ME, fleet: 'linux', sha256: programInstallerSha256(), installer: expect.any(String) });
    expect(Buffer.from(body.installer, 'base64').toString('utf8')).toBe(programInstaller());
    // Only the caller's group was read: no acting call.
    expect(fn.autoScaling.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeAutoScalingInstancesCommand']);
  });

  test('a base64-encoded body is decoded; whoami needs no Describe permission of the instance', async () => {
    const fn = loadAgent();
    const response = await fn.handler(functionUrlEvent('{"action":"whoami"}', { base64: true }), lambdaContext('instance-agent'));
    expect(JSON.parse(response.body)).toEqual({ ok: true, message: `${ME} of fleet linux`, instanceId: ME, fleet: 'linux', autoScalingGroupName: 'linux-asg' });
  });

  test.each([
    ['GET', { method: 'GET' }, '', 405],
    ['a malformed body', {}, '{"action":', 400],
  ])('%s from a verified instance: %d, no acting call', async (_name, options, body, statusCode) => {
    const fn = loadAgent();
    const response = await fn.handler(functionUrlEvent(body, options), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(statusCode);
    expect(fn.autoScaling.calls()).toHaveLength(0);
  });

  test('an Auto Scaling failure (access denied): 500, logged as an error', async () => {
    const fn = loadAgent();
    fn.autoScaling.on(fn.as.SetInstanceHealthCommand).rejects(Object.assign(new Error('not authorized to perform: autoscaling:SetInstanceHealth'), { name: 'AccessDenied' }));
    const response = await fn.handler(functionUrlEvent('{"action":"unhealthy"}'), lambdaContext('instance-agent'));
    expect(response.statusCode).toBe(500);
    expect(output.logs()).toContainEqual(expect.objectContaining({ level: 'ERROR', errorKind: 'AccessDenied', instanceId: ME, action: 'unhealthy' }));
  });
});
