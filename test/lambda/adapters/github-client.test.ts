/**
 * The Octokit client's retry budget (lambda/adapters/github-client.ts), through the GitHub port with
 * real Octokit over real HTTP against the fake GitHub server. Time is a fake clock (`remainingTimeMs`)
 * driven by the requests the fake has received, never the wall clock.
 */
import { createGitHubPort, GitHubPortOptions } from '../../../lambda/adapters/github';
import { GitHubError } from '../../../lambda/ports';
import { FakeGitHubServer, startFakeGitHub } from '../../fixtures/fake-github-server';
import { MemoryLogger } from '../../fixtures/memory-logger';

let server: FakeGitHubServer;
beforeEach(async () => {
  server = await startFakeGitHub();
});
afterEach(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
});

const TOKEN = /^\/app\/installations\/77\/access_tokens$/;
const JIT = /\/actions\/runners\/generate-jitconfig$/;
const RUNNERS = /\/orgs\/acme\/actions\/runners$/;

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh';

function port(options: Partial<GitHubPortOptions> = {}) {
  return createGitHubPort(
    { scope: 'organization', owner: 'acme', apiUrl: server.url, secretArn: SECRET_ARN, auth: 'app' },
    {
      readCredentials: async () => server.appCredentials(),
      logger: new MemoryLogger(),
      retryBaseMs: 10,
      requestTimeoutMs: 2000,
      reserveMs: 0,
      ...options,
    },
  );
}

async function failure(promise: Promise<unknown>): Promise<GitHubError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof GitHubError)) {
    throw new Error(`expected a GitHubError, got ${String(error)}`);
  }
  return error;
}

const jitRequest = { name: 'linux-i-0123456789abcdef0', labels: ['linux'], runnerGroupId: 1 };

describe('one retry budget per call chain', () => {
  test('an auth outage: the token request is not retried inside the request it authenticates (3 token requests, not 3 × 3)', async () => {
    server.fail('POST', TOKEN, { kind: 'status', status: 500 }, 100);

    const error = await failure(port().listRunners());

    expect(error.kind).toBe('server');
    expect(server.requestsTo('POST', TOKEN)).toHaveLength(3);
    expect(server.requestsTo('GET', RUNNERS)).toEqual([]);
  });

  test('an auth outage on a fake clock: each token request costing its 8 s timeout, the chain ends with the reserve left', async () => {
    server.fail('POST', TOKEN, { kind: 'status', status: 500 }, 100);
    const remaining = () => 60_000 - 8_000 * server.requests.length;

    await failure(port({ remainingTimeMs: remaining, reserveMs: 5_000 }).generateJitConfig(jitRequest));

    expect(server.requestsTo('POST', TOKEN)).toHaveLength(3);
    expect(remaining()).toBe(36_000);
  });

  test('a budget cut on one request does not carry over to the next one of the same client', async () => {
    let left = 60_000;
    const github = port({ remainingTimeMs: () => left });
    await github.listRunners(); // the installation token, minted with time to spare
    // Time for one attempt (200 ms) but not for a back-off (10 ms) and another: the 502 is not retried.
    left = 205;
    server.fail('GET', RUNNERS, { kind: 'status', status: 502 });
    expect((await failure(github.listRunners())).status).toBe(502);
    // A later invocation, with time: its 502 is retried again.
    left = 60_000;
    server.fail('GET', RUNNERS, { kind: 'status', status: 502 });

    expect(await github.listRunners()).toEqual([]);
    expect(server.requestsTo('GET', RUNNERS).map((r) => r.status)).toEqual([200, 502, 502, 200]);
  });
});

describe('a JIT request whose answer was lost', () => {
  test('the retry meets 409: that is our own runner, reported as a failure without an answer (network), not as a conflict', async () => {
    server.fail('POST', JIT, { kind: 'delay', ms: 30_000, phase: 'response' });

    const error = await failure(port({ requestTimeoutMs: 5_000 }).generateJitConfig(jitRequest));

    expect(error.kind).toBe('network');
    expect(error.message).toMatch(/^POST \/orgs\/acme\/actions\/runners\/generate-jitconfig failed before GitHub answered: an earlier attempt got no answer/);
    expect(server.requestsTo('POST', JIT).map((r) => r.status)).toEqual([undefined, 409]);
    expect(server.runners.map((r) => r.name)).toEqual([jitRequest.name]);
  });

  test('a 409 at the first attempt stays a conflict', async () => {
    server.addRunner({ name: jitRequest.name });
    const error = await failure(port().generateJitConfig(jitRequest));
    expect(error.kind).toBe('conflict');
  });

  test('a 502 blip where GitHub created nothing is retried: 201', async () => {
    server.fail('POST', JIT, { kind: 'status', status: 502 });
    const created = await port().generateJitConfig(jitRequest);
    expect(created.runnerId).toBeGreaterThan(0);
    expect(server.requestsTo('POST', JIT).map((r) => r.status)).toEqual([502, 201]);
  });

  test('the lost answer of one JIT request does not make a later request\'s 409 look like ours', async () => {
    const github = port({ requestTimeoutMs: 5_000 });
    server.fail('POST', JIT, { kind: 'delay', ms: 30_000, phase: 'response' });
    await failure(github.generateJitConfig(jitRequest));

    const error = await failure(github.generateJitConfig(jitRequest));

    expect(error.kind).toBe('conflict');
  });
});
