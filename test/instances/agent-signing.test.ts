/**
 * The agent request as the real curl sends it. A local HTTP server plays the instance metadata service
 * and the agent; the programs run with the system's curl (the other commands stay stubs). Checked: the
 * SigV4 signature, recomputed here by an independent implementation, for the lambda service in the
 * instance's region; the session token in a signed header; the body as built; and no credential on any
 * process's command line while the request is in flight.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import { CREDENTIALS, defaultOptions, INSTANCE_ID, Sandbox, until } from './harness';
import { AgentHit, commandLinesWith, loopbackAws, verifySigV4 } from './loopback-aws';

interface FakeAws {
  readonly url: string;
  readonly agentRequests: AgentHit[];
  close(): Promise<void>;
}

/** The metadata service and the agent (answers taken in order, then 200). */
async function fakeAws(agentAnswers: Array<{ status: number; body: object }>): Promise<FakeAws> {
  const agentRequests: AgentHit[] = [];
  const server = await loopbackAws({
    role: 'fleet-instance-role',
    agent: (hit) => {
      agentRequests.push(hit);
      const answer = agentAnswers.shift() ?? { status: 200, body: { ok: true, message: 'done' } };
      return { status: answer.status, text: JSON.stringify(answer.body) };
    },
  });
  return { ...server, agentRequests };
}

describe('the agent request, sent by the real curl', () => {
  let box: Sandbox;
  let aws: FakeAws | undefined;
  afterEach(async () => {
    await aws?.close();
    box.cleanup();
  });

  /** Installs the programs, pointed at the fake metadata service and agent, with the system's curl. */
  async function prepare(answers: Array<{ status: number; body: object }>): Promise<FakeAws> {
    box = new Sandbox();
    box.install(defaultOptions());
    aws = await fakeAws(answers);
    // The agent URL must be https at synthesis; this test's agent is plain HTTP on the loopback.
    const config = `${box.root}/etc/runner-fleet/config.env`;
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace(/^RF_AGENT_URL=.*$/m, `RF_AGENT_URL=${aws.url}/agent/`));
    box.extraEnv.RUNNER_FLEET_IMDS = aws.url;
    box.withoutStub('curl');
    return aws;
  }

  test('job-event started: whoami, then protect, each a POST signed for lambda in the instance\'s region, the token signed too, no credential on a command line', async () => {
    const agent = await prepare([{ status: 200, body: { ok: true, message: 'me', autoScalingGroupName: 'linux-asg' } }]);
    const result = await box.start(`${box.root}/opt/runner-fleet/bin/job-event`, ['started']).exited;
    expect(result.status).toBe(0);
    expect(agent.agentRequests.map((r) => r.body)).toEqual(['{"action":"whoami"}', '{"action":"protect","protected":true}']);
    for (const request of agent.agentRequests) {
      const check = verifySigV4(request, CREDENTIALS.SecretAccessKey);
      expect(check).toEqual({
        valid: true,
        accessKeyId: CREDENTIALS.AccessKeyId,
        scope: 'eu-west-1/lambda',
        signedHeaders: ['content-type', 'host', 'x-amz-date', 'x-amz-security-token'],
      });
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-amz-security-token']).toBe(CREDENTIALS.Token);
      expect(request.exposed).toEqual([]);
    }
    expect(result.log).toContain('scale-in protection on');
    expect(fs.existsSync(`${box.root}/run/runner-fleet/busy`)).toBe(true);
    expect([result.output, result.log].filter((t) => t.includes(CREDENTIALS.SecretAccessKey) || t.includes(CREDENTIALS.Token))).toEqual([]);
  });

  test('the agent\'s 409 and 500 answers: the status and message are logged, a 500 is tried again, never a credential', async () => {
    const agent = await prepare([
      { status: 200, body: { ok: true, message: 'me', autoScalingGroupName: 'linux-asg' } },
      { status: 409, body: { ok: false, message: `${INSTANCE_ID} is already terminating`, reason: 'already-terminating' } },
      { status: 500, body: { ok: false, message: 'internal error' } },
      { status: 200, body: { ok: true, message: 'done' } },
    ]);
    const started = await box.start(`${box.root}/opt/runner-fleet/bin/job-event`, ['started']).exited;
    expect(started.status).toBe(1);
    expect(started.log).toContain(`{"action":"protect","protected":true}: nothing to do (409 ${INSTANCE_ID} is already terminating)`);
    expect(started.log).toContain('could not set scale-in protection on');
    // A persistent runner would lift the protection after its job; this one is ephemeral: only the marker.
    const finished = await box.start(`${box.root}/opt/runner-fleet/bin/job-event`, ['finished']).exited;
    expect(finished.status).toBe(0);
    expect(agent.agentRequests).toHaveLength(2);
    // A heartbeat answered 500, then 200: tried again.
    const script = `${box.dir}/heartbeat.sh`;
    fs.writeFileSync(script, `. "${box.root}/opt/runner-fleet/bin/lib.sh"; load_identity && agent_heartbeat terminate`);
    const beat = await box.start(script).exited;
    expect(beat.status).toBe(0);
    expect(beat.log).toContain('{"action":"heartbeat","hook":"terminate"}: answered 500 internal error, trying again');
    expect(agent.agentRequests.map((r) => r.body)).toEqual([
      '{"action":"whoami"}', '{"action":"protect","protected":true}', '{"action":"heartbeat","hook":"terminate"}', '{"action":"heartbeat","hook":"terminate"}',
    ]);
    expect(agent.agentRequests.every((r) => verifySigV4(r, CREDENTIALS.SecretAccessKey).valid && r.exposed.length === 0)).toBe(true);
    expect([beat.output, beat.log].filter((t) => t.includes(CREDENTIALS.SecretAccessKey) || t.includes(CREDENTIALS.Token))).toEqual([]);
  });

  test('the checks can fail: a changed body breaks the signature, a credential on a command line is found', async () => {
    const agent = await prepare([{ status: 200, body: { ok: true, message: 'me', autoScalingGroupName: 'linux-asg' } }]);
    await box.start(`${box.root}/opt/runner-fleet/bin/job-event`, ['started']).exited;
    const request = agent.agentRequests[1];
    expect(verifySigV4(request, CREDENTIALS.SecretAccessKey).valid).toBe(true);
    expect(verifySigV4({ ...request, body: '{"action":"protect","protected":false}' }, CREDENTIALS.SecretAccessKey).valid).toBe(false);
    expect(verifySigV4(request, 'another-secret').valid).toBe(false);
    // A process that has the secret key on its command line (as `curl --user KEY:SECRET` would).
    const exposing = spawn('bash', ['-c', 'read -r _', 'exposing', CREDENTIALS.SecretAccessKey], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await until(() => commandLinesWith([CREDENTIALS.SecretAccessKey]).length > 0, 'the exposing process to show up');
      expect(commandLinesWith([CREDENTIALS.SecretAccessKey]).join('\n')).toContain(`${exposing.pid}: bash -c`);
    } finally {
      exposing.kill();
    }
  });
});
