/**
 * The instance agent's entry point and the programs it serves: read from its programs folder on the first
 * programs request (not at cold start), kept once read, read again after a failed read. Auto Scaling is
 * aws-sdk-client-mock; the folder is a temporary copy of assets/instance.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { instanceAgentLambdaHandler } from '../../../lambda/adapters/instance-agent-entry';
import { ENV_FLEET_CONFIG } from '../../../src/contract';
import { INSTANCE_ASSETS_DIR, programInstallerSha256 } from '../../../src/instances/user-data';
import { OutputCapture } from '../e2e/harness';
import { fleetEntry, runtimeConfig } from '../fixtures';

const ACCOUNT = '123456789012';
const ME = 'i-0123456789abcdef0';
const ROLE = 'linux-instance-role';
const CONTEXT = { invokedFunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:agent`, getRemainingTimeInMillis: () => 15_000 };
const env = { [ENV_FLEET_CONFIG]: JSON.stringify(runtimeConfig([fleetEntry({ name: 'linux', instanceRoleName: ROLE })])) };
const autoScaling = mockClient(AutoScalingClient);

function request(action: string) {
  return {
    body: JSON.stringify({ action }),
    requestContext: { http: { method: 'POST' }, authorizer: { iam: { userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${ME}`, accountId: ACCOUNT } } },
  } as any;
}

describe('the instance agent entry point: the programs folder', () => {
  let dir: string;
  let output: OutputCapture;
  beforeEach(() => {
    output = new OutputCapture().start();
    autoScaling.reset();
    autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [{ InstanceId: ME, AutoScalingGroupName: 'linux-asg' } as any] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-programs-'));
  });
  afterEach(() => {
    output.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('not read at cold start nor for other actions; a missing folder is a 500, and the next request reads it again; once read, kept', async () => {
    const programs = path.join(dir, 'programs');
    const agent = instanceAgentLambdaHandler({ env, programsDir: programs });
    // Other actions work without the folder.
    expect((await agent(request('whoami'), CONTEXT)).statusCode).toBe(200);
    const missing = await agent(request('programs'), CONTEXT);
    expect(missing.statusCode).toBe(500);
    expect(output.logs()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'Instance agent: programs failed', error: expect.stringMatching(/ENOENT/) }));
    fs.cpSync(INSTANCE_ASSETS_DIR, programs, { recursive: true });
    const served = await agent(request('programs'), CONTEXT);
    expect(served.statusCode).toBe(200);
    expect(JSON.parse(String(served.body)).sha256).toBe(programInstallerSha256());
    // Read once: a later change of the files (there is none in a deployed function) is not seen.
    fs.appendFileSync(path.join(programs, 'lib.sh'), '# changed\n');
    expect(JSON.parse(String((await agent(request('programs'), CONTEXT)).body)).sha256).toBe(programInstallerSha256());
  });

  test('the default folder is the one beside the module (the bundle\'s programs/)', async () => {
    // From the sources, beside lambda/adapters there is none: the read fails, naming the path.
    const agent = instanceAgentLambdaHandler({ env });
    expect((await agent(request('programs'), CONTEXT)).statusCode).toBe(500);
    expect(output.logs()).toContainEqual(expect.objectContaining({
      message: 'Instance agent: programs failed', error: expect.stringContaining(path.join('lambda', 'adapters', 'programs', 'lib.sh')),
    }));
  });
});
