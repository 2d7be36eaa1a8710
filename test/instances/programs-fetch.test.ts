/**
 * The programs' whole way, with the real pieces: the user data, run with the system's curl, fetches them
 * from the real instance agent (its Lambda entry point behind a loopback HTTP server, serving the copy of
 * assets/instance that the bundle task put beside its bundle), checks their SHA-256 against the digest
 * its config.env pins, and installs them. The local server plays the metadata service and the Function
 * URL: it checks the SigV4 signature and hands the agent the caller the way Lambda does (the verified
 * role session). Auto Scaling is aws-sdk-client-mock.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { CREDENTIALS, defaultOptions, INSTANCE_ID, RunResult, Sandbox } from './harness';
import { loopbackAws, verifySigV4 } from './loopback-aws';
import { instanceAgentLambdaHandler } from '../../lambda/adapters/instance-agent-entry';
import { ENV_FLEET_CONFIG, LAUNCH_HOOK_NAME } from '../../src/contract';
import { AGENT_PROGRAMS_DIR, INSTANCE_PROGRAMS } from '../../src/contract/instance-programs';
import { INSTANCE_ASSETS_DIR, instanceAsset, programInstallerSha256, renderUserData } from '../../src/instances/user-data';
import { OutputCapture } from '../lambda/e2e/harness';
import { fleetEntry, runtimeConfig } from '../lambda/fixtures';

/** Where the bundle task copies assets/instance for the agent (its Lambda code asset's folder). */
const BUNDLED_PROGRAMS = path.join(__dirname, '..', '..', 'assets', 'lambda', 'instance-agent.lambda', AGENT_PROGRAMS_DIR);
const ACCOUNT = '123456789012';
const ROLE = 'fleet-instance-role';

const autoScaling = mockClient(AutoScalingClient);

interface Served {
  readonly url: string;
  /** Each agent request: its body, whether its signature is valid, the command lines that showed a credential. */
  readonly requests: Array<{ body: string; signed: boolean; exposed: string[]; status: number }>;
  close(): Promise<void>;
}

/** The metadata service and the agent's Function URL, with the real agent handler behind it. */
async function serve(programsDir: string): Promise<Served> {
  const agent = instanceAgentLambdaHandler({
    env: { [ENV_FLEET_CONFIG]: JSON.stringify(runtimeConfig([fleetEntry({ name: 'linux', instanceRoleName: ROLE })])) },
    programsDir,
  });
  const requests: Served['requests'] = [];
  const server = await loopbackAws({
    role: ROLE,
    // As the metadata service writes them: over several lines.
    prettyCredentials: true,
    agent: async ({ method, path: url, headers, body, exposed }) => {
      const check = verifySigV4({ method, path: url, headers, body }, CREDENTIALS.SecretAccessKey);
      const signed = check.valid && check.accessKeyId === CREDENTIALS.AccessKeyId && check.scope === 'eu-west-1/lambda';
      if (!signed) {
        // As the Function URL refuses a request whose signature does not verify.
        requests.push({ body, signed, exposed, status: 403 });
        return { status: 403, text: '{"Message":"Forbidden"}' };
      }
      const answer = await agent({
        body,
        isBase64Encoded: false,
        requestContext: {
          http: { method },
          authorizer: { iam: { userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/${INSTANCE_ID}`, accountId: ACCOUNT } },
        },
      } as any, { invokedFunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:agent`, getRemainingTimeInMillis: () => 30_000 } as any);
      requests.push({ body, signed, exposed, status: answer.statusCode ?? 0 });
      return { status: answer.statusCode ?? 500, text: String(answer.body) };
    },
  });
  return { ...server, requests };
}

describe('the programs, fetched by the user data from the real agent with the real curl', () => {
  let box: Sandbox;
  let served: Served | undefined;
  let output: OutputCapture;
  beforeEach(() => {
    // The agent's log lines, kept for the tests rather than printed.
    output = new OutputCapture().start();
    autoScaling.reset();
    autoScaling.on(DescribeAutoScalingInstancesCommand, { InstanceIds: [INSTANCE_ID] })
      .resolves({ AutoScalingInstances: [{ InstanceId: INSTANCE_ID, AutoScalingGroupName: 'linux-asg' } as any] });
    autoScaling.on(CompleteLifecycleActionCommand).resolves({});
    box = new Sandbox();
  });
  afterEach(async () => {
    output.stop();
    await served?.close();
    served = undefined;
    box.cleanup();
  });

  /** Runs the user data, pointed at the local server, with the system's curl (the other commands stay stubs). */
  async function runUserData(programsDir: string): Promise<RunResult> {
    served = await serve(programsDir);
    // The agent URL must be https at synthesis; here the agent is plain HTTP on the loopback.
    const userData = renderUserData(defaultOptions()).replace(/^RF_AGENT_URL=.*$/m, `RF_AGENT_URL=${served.url}/agent/`);
    const script = path.join(box.dir, 'user-data.sh');
    fs.writeFileSync(script, userData);
    box.extraEnv.RUNNER_FLEET_IMDS = served.url;
    box.extraEnv.RUNNER_FLEET_FETCH_ATTEMPTS = '2';
    box.withoutStub('curl');
    // Started, not run synchronously: the server in this process must answer meanwhile.
    return box.start(script).exited;
  }

  test('the bundle task put an exact copy of assets/instance beside the agent\'s bundle', () => {
    expect(fs.existsSync(BUNDLED_PROGRAMS)).toBe(true);
    expect(fs.readdirSync(BUNDLED_PROGRAMS).sort()).toEqual(fs.readdirSync(INSTANCE_ASSETS_DIR).sort());
    for (const file of fs.readdirSync(INSTANCE_ASSETS_DIR)) {
      expect({ file, same: fs.readFileSync(path.join(BUNDLED_PROGRAMS, file), 'utf8') === instanceAsset(file) }).toEqual({ file, same: true });
    }
  });

  test('signed for lambda, served by the agent to the instance of its fleet, checked against the pinned digest, installed', async () => {
    const result = await runUserData(BUNDLED_PROGRAMS);
    expect(result.output).not.toMatch(/abandoning/);
    expect(result.status).toBe(0);
    expect(served!.requests.map(({ body, signed, exposed, status }) => ({ body, signed, exposed, status })))
      .toEqual([{ body: '{"action":"programs"}', signed: true, exposed: [], status: 200 }]);
    expect(autoScaling.commandCalls(DescribeAutoScalingInstancesCommand)).toHaveLength(1);
    for (const program of INSTANCE_PROGRAMS) {
      expect({ program: program.asset, same: fs.readFileSync(path.join(result.root, program.path), 'utf8') === instanceAsset(program.asset) })
        .toEqual({ program: program.asset, same: true });
    }
    expect(result.log).toContain(`programs ${programInstallerSha256()} installed`);
    expect(output.logs()).toContainEqual(expect.objectContaining({ message: 'Instance agent: programs done', instanceId: INSTANCE_ID, fleet: 'linux' }));
    expect([result.output, result.log].filter((t) => t.includes(CREDENTIALS.SecretAccessKey) || t.includes(CREDENTIALS.Token))).toEqual([]);
  });

  test('an agent of another release (its programs differ by one line): nothing installed, the launch abandoned through the agent', async () => {
    const other = path.join(box.dir, 'other-release');
    fs.cpSync(INSTANCE_ASSETS_DIR, other, { recursive: true });
    fs.appendFileSync(path.join(other, 'lib.sh'), '# another release\n');
    const result = await runUserData(other);
    expect(result.status).not.toBe(0);
    expect(INSTANCE_PROGRAMS.filter((p) => fs.existsSync(path.join(result.root, p.path)))).toEqual([]);
    expect(result.log).toContain(`and this fleet's launch template pins ${programInstallerSha256()}: deploy the control plane and this fleet from the same version`);
    // The abandon reached the agent signed, and the agent made the call on the caller's own launch action.
    expect(served!.requests.map((r) => [r.body, r.signed, r.status])).toEqual([
      ['{"action":"programs"}', true, 200],
      ['{"action":"complete","hook":"launch","result":"ABANDON"}', true, 200],
    ]);
    expect(autoScaling.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: LAUNCH_HOOK_NAME, InstanceId: INSTANCE_ID, LifecycleActionResult: 'ABANDON' },
    ]);
  });
});
