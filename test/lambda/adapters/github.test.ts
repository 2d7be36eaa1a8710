/**
 * The GitHub adapter with real Octokit (retry and throttling plugins, auth-app) over real HTTP against
 * the fake GitHub server on 127.0.0.1.
 */
import { generateKeyPairSync } from 'crypto';
import { createGitHubPort, GitHubPortOptions, RateLimitInfo, registrationUrlFor } from '../../../lambda/adapters/github';
import { GitHubError } from '../../../lambda/ports';
import type { GitHubRuntimeConfig } from '../../../src/contract';
import { FakeGitHubServer, seedRunners, startFakeGitHub } from '../../fixtures/fake-github-server';
import { MemoryLogger } from '../../fixtures/memory-logger';

let server: FakeGitHubServer;
let logger: MemoryLogger;
beforeEach(async () => {
  server = await startFakeGitHub();
  logger = new MemoryLogger();
});
afterEach(async () => {
  await server.stop();
  expect(server.internalErrors).toEqual([]);
});

/** A port on the fake, App auth with a known installation, fast retries. */
function port(config: Partial<GitHubRuntimeConfig> = {}, options: Partial<GitHubPortOptions> = {}) {
  return createGitHubPort(
    { scope: 'organization', owner: 'acme', apiUrl: server.url, secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh', auth: 'app', ...config },
    { readCredentials: async () => server.appCredentials(), logger, retryBaseMs: 10, requestTimeoutMs: 2000, ...options },
  );
}

async function failure(promise: Promise<unknown>): Promise<GitHubError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof GitHubError)) {
    throw new Error(`expected a GitHubError, got ${String(error)}`);
  }
  return error;
}

const RUNNERS = /\/orgs\/acme\/actions\/runners$/;

function otherKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

describe('reading runners', () => {
  test('lists every page with per_page=100: 250 runners in 3 requests', async () => {
    seedRunners(server, 250, { labelNames: ['fleet-linux'] });

    const runners = await port().listRunners();

    expect(runners).toHaveLength(250);
    expect(new Set(runners.map((r) => r.id)).size).toBe(250);
    const lists = server.requestsTo('GET', RUNNERS);
    expect(lists.map((r) => [r.query.get('per_page'), r.query.get('page') ?? '1'])).toEqual([['100', '1'], ['100', '2'], ['100', '3']]);
    expect(runners[0]).toEqual({
      id: 1, name: 'seed-0', status: 'offline', busy: true, labels: ['self-hosted', 'Linux', 'X64', 'fleet-linux'], ephemeral: false, runnerGroupId: 1,
    });
  });

  test('an empty scope is one request and an empty list', async () => {
    expect(await port().listRunners()).toEqual([]);
    expect(server.requestsTo('GET', RUNNERS)).toHaveLength(1);
  });

  test('finds a runner by exact name with the name filter, one request', async () => {
    seedRunners(server, 150);
    server.addRunner({ name: 'linux-i-0123456789abcdef0', busy: true });

    const found = await port().findRunnerByName('linux-i-0123456789abcdef0');
    const missing = await port().findRunnerByName('linux-i-0000000000000000f');

    expect(found).toMatchObject({ name: 'linux-i-0123456789abcdef0', busy: true, status: 'online' });
    expect(missing).toBeUndefined();
    const lists = server.requestsTo('GET', RUNNERS);
    expect(lists.map((r) => r.query.get('name'))).toEqual(['linux-i-0123456789abcdef0', 'linux-i-0000000000000000f']);
  });

  test('repository scope on a GitHub Enterprise Server URL (/api/v3) with a personal access token', async () => {
    server.addRunner({ name: 'repo-runner', scope: server.scopeKey('infra') });
    server.addRunner({ name: 'org-runner' });
    const github = port(
      { scope: 'repository', repo: 'infra', auth: 'token', apiUrl: `${server.url}/api/v3` },
      { readCredentials: async () => JSON.stringify({ token: server.token }) },
    );

    const runners = await github.listRunners();

    expect(runners.map((r) => r.name)).toEqual(['repo-runner']);
    const request = server.requests[server.requests.length - 1];
    expect(request.rawPath).toBe('/api/v3/repos/acme/infra/actions/runners');
    expect(request.headers.authorization).toBe(`token ${server.token}`);
    expect(github.registrationUrl()).toBe(`${server.url}/acme/infra`);
  });

  test('a bare token string is accepted as token credentials', async () => {
    await port({ auth: 'token' }, { readCredentials: async () => `  ${server.token}\n` }).listRunners();
    expect(server.requests[0].headers.authorization).toBe(`token ${server.token}`);
  });
});

describe('GitHub App authentication', () => {
  test('mints the installation token once and reuses it for every call of the port', async () => {
    const runner = server.addRunner({ name: 'old' });
    const github = port();

    await github.listRunners();
    await github.findRunnerByName('old');
    await github.generateJitConfig({ name: 'linux-i-1', labels: ['linux'], runnerGroupId: 1 });
    await github.deleteRunner(runner.id);
    await github.listRunners();

    expect(server.requestsTo('POST', /^\/app\/installations\/77\/access_tokens$/)).toHaveLength(1);
    expect(server.jwtRejections).toEqual([]);
    const runnerCalls = server.requests.filter((r) => r.path.includes('/actions/runners'));
    expect(runnerCalls).toHaveLength(5);
    expect(new Set(runnerCalls.map((r) => r.headers.authorization))).toEqual(new Set([`token ${server.issuedInstallationTokens[0]}`]));
  });

  test('the App JWT is sent only to the token endpoint, as a Bearer token', async () => {
    await port().listRunners();
    const [mint] = server.requestsTo('POST', /access_tokens$/);
    expect(mint.headers.authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/i);
    expect(server.jwtProblem(String(mint.headers.authorization).split(' ')[1])).toBeUndefined();
  });

  test.each([
    ['organization', {}, /^\/orgs\/acme\/installation$/],
    ['repository', { scope: 'repository' as const, repo: 'infra' }, /^\/repos\/acme\/infra\/installation$/],
  ])('%s scope: looks the installation up with the JWT when the secret has no installationId', async (_scope, config, lookup) => {
    const github = port(config, { readCredentials: async () => server.appCredentials({ withInstallationId: false }) });

    await github.listRunners();
    await github.listRunners();

    expect(server.requestsTo('GET', lookup)).toHaveLength(1);
    expect(server.requestsTo('POST', /^\/app\/installations\/77\/access_tokens$/)).toHaveLength(1);
    expect(logger.messages('info')).toContain('GitHub App installation found');
  });

  test('an App not installed on the owner: kind auth, with a hint', async () => {
    const error = await failure(port({ owner: 'other-org' }, { readCredentials: async () => server.appCredentials({ withInstallationId: false }) }).listRunners());
    expect(error.kind).toBe('auth');
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/GET \/orgs\/other-org\/installation answered 404.*App is installed/);
  });

  test.each([
    ['a key that is not the App\'s', () => ({ appId: server.appId, privateKey: otherKeyPem() }), 'signature does not verify with the App public key'],
    ['another App\'s id', () => ({ appId: '1', privateKey: server.privateKeyPem }), 'iss 1 is not the App id'],
  ])('%s: the JWT is refused (401), kind auth', async (_case, secret, rejection) => {
    const error = await failure(port({}, { readCredentials: async () => JSON.stringify({ ...secret(), installationId: 77 }) }).listRunners());
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect(server.jwtRejections).toEqual([rejection]);
    expect(server.issuedInstallationTokens).toEqual([]);
  });

  test('a 404 while minting the token is not a missing runner: deleteRunner fails with kind auth', async () => {
    const runner = server.addRunner({ name: 'r' });
    const unknownInstallation = JSON.stringify({ appId: server.appId, privateKey: server.privateKeyPem, installationId: 999 });

    const error = await failure(port({}, { readCredentials: async () => unknownInstallation }).deleteRunner(runner.id));

    expect(error.kind).toBe('auth');
    expect(server.runners).toHaveLength(1);
  });
});

describe('writing runners', () => {
  test('generates a JIT configuration with the documented body', async () => {
    const jit = await port().generateJitConfig({ name: 'linux-i-1', labels: ['linux', 'fleet-linux'], runnerGroupId: 3 });

    expect(jit).toEqual({ runnerId: server.runners[0].id, encodedJitConfig: server.issuedJitConfigs[0] });
    expect(server.requestsTo('POST', /generate-jitconfig$/)[0].body).toEqual({
      name: 'linux-i-1', runner_group_id: 3, labels: ['linux', 'fleet-linux'], work_folder: '_work',
    });
    expect(server.runners[0]).toMatchObject({ name: 'linux-i-1', ephemeral: true, status: 'offline', runner_group_id: 3 });
  });

  test('a work folder is passed on', async () => {
    await port().generateJitConfig({ name: 'n', labels: ['l'], runnerGroupId: 1, workFolder: 'w' });
    expect(server.requestsTo('POST', /generate-jitconfig$/)[0].body).toMatchObject({ work_folder: 'w' });
  });

  test('a JIT name that exists answers 409: kind conflict, with status and request id, not retried', async () => {
    server.addRunner({ name: 'linux-i-1' });

    const error = await failure(port().generateJitConfig({ name: 'linux-i-1', labels: ['linux'], runnerGroupId: 1 }));

    expect(error).toMatchObject({ kind: 'conflict', status: 409 });
    expect(error.requestId).toMatch(/^FAKE:/);
    expect(error.message).toMatch(/^POST \/orgs\/acme\/actions\/runners\/generate-jitconfig answered 409: Already exists/);
    expect(server.requestsTo('POST', /generate-jitconfig$/)).toHaveLength(1);
  });

  test('an invalid JIT request answers 422: kind validation, not retried', async () => {
    const error = await failure(port().generateJitConfig({ name: 'linux-i-1', labels: [], runnerGroupId: 1 }));
    expect(error).toMatchObject({ kind: 'validation', status: 422 });
    expect(server.requestsTo('POST', /generate-jitconfig$/)).toHaveLength(1);
  });

  test('creates a registration token', async () => {
    const token = await port().createRegistrationToken();
    expect(token.token).toBe(server.issuedRegistrationTokens[0]);
    expect(Date.parse(token.expiresAt)).toBeGreaterThan(Date.now());
  });

  test.each([
    ['idle runner', { busy: false }, 'deleted', 0],
    ['busy runner (422)', { busy: true }, 'busy', 1],
    ['unknown runner (404)', undefined, 'not-found', 0],
  ] as const)('deleting a runner: %s → %s', async (_case, runner, outcome, left) => {
    const id = runner ? server.addRunner(runner).id : 9999;
    expect(await port().deleteRunner(id)).toBe(outcome);
    expect(server.runners).toHaveLength(left);
    expect(server.requestsTo('DELETE', /actions\/runners\/\d+$/)).toHaveLength(1);
  });
});

describe('enterprise scope and runner groups', () => {
  const enterprise = () => port(
    { scope: 'enterprise', owner: 'acme-corp', auth: 'token', apiUrl: `${server.url}/api/v3` },
    { readCredentials: async () => server.token },
  );

  test('enterprise runners with a token: every page listed, JIT, registration token and delete on /enterprises/{slug}', async () => {
    for (let i = 0; i < 150; i++) server.addRunner({ name: `ent-${i}`, scope: 'enterprises/acme-corp' });
    const github = enterprise();

    expect(await github.listRunners()).toHaveLength(150);
    const jit = await github.generateJitConfig({ name: 'linux-i-0123456789abcdef0', labels: ['linux'], runnerGroupId: 3 });
    await github.createRegistrationToken();
    expect(await github.deleteRunner(jit.runnerId)).toBe('deleted');
    expect(await github.findRunnerByName('ent-7')).toEqual(expect.objectContaining({ name: 'ent-7' }));

    const paths = server.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(expect.arrayContaining([
      'GET /enterprises/acme-corp/actions/runners',
      'POST /enterprises/acme-corp/actions/runners/generate-jitconfig',
      'POST /enterprises/acme-corp/actions/runners/registration-token',
      `DELETE /enterprises/acme-corp/actions/runners/${jit.runnerId}`,
    ]));
    expect(server.requestsTo('GET', /\/enterprises\/acme-corp\/actions\/runners$/).filter((r) => !r.query.has('name'))).toHaveLength(2);
    expect(github.registrationUrl()).toBe(`${server.url}/enterprises/acme-corp`);
  });

  test('enterprise runners with an App installation token: GitHub refuses, kind auth', async () => {
    const github = port({ scope: 'enterprise', owner: 'acme-corp' });
    expect((await failure(github.listRunners())).kind).toBe('auth');
  });

  test('a runner group is found by exact name across pages, and remembered', async () => {
    await server.stop();
    const groups = Array.from({ length: 120 }, (_, i) => ({ id: 100 + i, name: `group-${i}` }));
    server = await startFakeGitHub({ runnerGroups: [...groups, { id: 7, name: 'Builders' }] });
    const github = port();

    expect(await github.findRunnerGroupId('Builders')).toBe(7);
    expect(await github.findRunnerGroupId('Builders')).toBe(7);
    expect(await github.findRunnerGroupId('builders')).toBeUndefined();
    const lookups = server.requestsTo('GET', /\/orgs\/acme\/actions\/runner-groups$/);
    expect(lookups.map((r) => r.query.get('per_page'))).toEqual(['100', '100', '100', '100']);
  });

  test('an enterprise\'s runner groups', async () => {
    await server.stop();
    server = await startFakeGitHub({ runnerGroups: [{ id: 4, name: 'Shared' }] });
    expect(await enterprise().findRunnerGroupId('Shared')).toBe(4);
    expect(server.requestsTo('GET', /\/enterprises\/acme-corp\/actions\/runner-groups$/)).toHaveLength(1);
  });
});

describe('reading workflow jobs (reconciliation of lost deliveries)', () => {
  test.each([
    ['queued', 'queued'], ['waiting', 'queued'], ['in_progress', 'in_progress'], ['completed', 'completed'],
  ] as const)('a %s job reads %s', async (status, expected) => {
    server.jobs.set(4242, { repository: 'acme/infra', status });
    expect(await port().getJobStatus('acme/infra', 4242)).toBe(expected);
    expect(server.requestsTo('GET', /^\/repos\/acme\/infra\/actions\/jobs\/4242$/)).toHaveLength(1);
  });

  test('a job GitHub does not know (404) is not-found, not an error', async () => {
    expect(await port().getJobStatus('acme/infra', 1)).toBe('not-found');
  });

  test('a 403 (the App lacks "Actions: read") reads not-found, which never means finished; the request is made once', async () => {
    server.jobs.set(4242, { repository: 'acme/infra', status: 'queued' });
    server.fail('GET', /\/actions\/jobs\/4242$/, { kind: 'status', status: 403, message: 'Resource not accessible by integration' });
    expect(await port().getJobStatus('acme/infra', 4242)).toBe('not-found');
    expect(server.requestsTo('GET', /\/actions\/jobs\/4242$/)).toHaveLength(1);
  });

  test('a rate limit on the job lookup (a 403 too) stays an error: it says nothing of the job', async () => {
    server.jobs.set(4242, { repository: 'acme/infra', status: 'queued' });
    server.fail('GET', /\/actions\/jobs\/4242$/, { kind: 'secondary-rate-limit', retryAfter: 120 }, 5);
    const error = await failure(port({}, { maxRetryAfterSeconds: 1 }).getJobStatus('acme/infra', 4242));
    expect(error.kind).toBe('rate-limited');
  });

  test('a 404 while minting the installation token is an error, not a missing job', async () => {
    const unknownInstallation = JSON.stringify({ appId: server.appId, privateKey: server.privateKeyPem, installationId: 999 });
    const error = await failure(port({}, { readCredentials: async () => unknownInstallation }).getJobStatus('acme/infra', 1));
    expect(error.kind).toBe('auth');
  });

  test('the core rate limit of the last answer is kept for the metric', async () => {
    const github = port();
    expect(github.rateLimit?.()).toBeUndefined();
    await github.listRunners();
    expect(github.rateLimit?.()).toEqual({ remaining: expect.any(Number), limit: 5000 });
  });
});

describe('failures and retries', () => {
  test('5xx then success: retried by plugin-retry', async () => {
    seedRunners(server, 3);
    server.fail('GET', RUNNERS, { kind: 'status', status: 502 }, 2);

    expect(await port().listRunners()).toHaveLength(3);
    expect(server.requestsTo('GET', RUNNERS).map((r) => r.status)).toEqual([502, 502, 200]);
  });

  test('5xx for ever: kind server after 1 + retries attempts', async () => {
    server.fail('GET', RUNNERS, { kind: 'status', status: 503 }, 10);

    const error = await failure(port({}, { retries: 2 }).listRunners());

    expect(error).toMatchObject({ kind: 'server', status: 503 });
    expect(error.requestId).toMatch(/^FAKE:/);
    expect(server.requestsTo('GET', RUNNERS)).toHaveLength(3);
  });

  test('a reset connection is retried', async () => {
    server.fail('POST', /registration-token$/, { kind: 'reset' });
    expect((await port().createRegistrationToken()).token).toBe(server.issuedRegistrationTokens[0]);
    expect(server.requestsTo('POST', /registration-token$/)).toHaveLength(2);
  });

  test('connections reset for ever: kind network', async () => {
    server.fail('GET', RUNNERS, { kind: 'reset' }, 10);
    const error = await failure(port({}, { retries: 1 }).listRunners());
    expect(error.kind).toBe('network');
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/^GET \/orgs\/acme\/actions\/runners failed before GitHub answered: other side closed/);
  });

  test('an answer slower than requestTimeoutMs: each attempt times out, kind network', async () => {
    server.fail('GET', RUNNERS, { kind: 'delay', ms: 1500 }, 10);
    const started = Date.now();

    const error = await failure(port({}, { requestTimeoutMs: 150, retries: 1 }).listRunners());

    expect(error.kind).toBe('network');
    expect(error.message).toMatch(/timeout/i);
    expect(server.requestsTo('GET', RUNNERS)).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('a 429 with retry-after: 1 is waited for, then the call succeeds', async () => {
    server.fail('POST', /registration-token$/, { kind: 'secondary-rate-limit', status: 429, retryAfter: 1 });
    const started = Date.now();

    const token = await port().createRegistrationToken();

    expect(token.token).toBe(server.issuedRegistrationTokens[0]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requestsTo('POST', /registration-token$/).map((r) => r.status)).toEqual([429, 201]);
  });

  test('a secondary rate limit (403) is retried after retry-after', async () => {
    server.fail('GET', RUNNERS, { kind: 'secondary-rate-limit', retryAfter: 1 });
    const started = Date.now();

    expect(await port().listRunners()).toEqual([]);

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requestsTo('GET', RUNNERS).map((r) => r.status)).toEqual([403, 200]);
    expect(logger.entries.find((e) => e.message === 'GitHub secondary rate limit reached')?.attributes).toMatchObject({ retryAfterSeconds: 1, retrying: true });
  });

  test('the primary rate limit (403, remaining 0) waits until x-ratelimit-reset', async () => {
    server.fail('GET', RUNNERS, { kind: 'rate-limit', retryAfter: 1 });
    expect(await port().listRunners()).toEqual([]);
    expect(server.requestsTo('GET', RUNNERS).map((r) => r.status)).toEqual([403, 200]);
    expect(logger.messages('warn')).toContain('GitHub rate limit reached');
  });

  test('a rate limit asking for more than 60 s is not waited for: kind rate-limited at once', async () => {
    server.fail('GET', RUNNERS, { kind: 'secondary-rate-limit', retryAfter: 120 }, 5);
    const started = Date.now();

    const error = await failure(port().listRunners());

    expect(error).toMatchObject({ kind: 'rate-limited', status: 403 });
    expect(Date.now() - started).toBeLessThan(900);
    expect(server.requestsTo('GET', RUNNERS)).toHaveLength(1);
  });

  test('rate limits give up after throttleRetryLimit retries', async () => {
    server.fail('DELETE', /actions\/runners\/\d+$/, { kind: 'secondary-rate-limit', retryAfter: 1 }, 5);
    const error = await failure(port({}, { throttleRetryLimit: 1 }).deleteRunner(server.addRunner().id));
    expect(error.kind).toBe('rate-limited');
    expect(server.requestsTo('DELETE', /actions\/runners\/\d+$/)).toHaveLength(2);
  });

  test('no attempt starts when the invocation has no time left', async () => {
    const error = await failure(port({}, { remainingTimeMs: () => 3000, reserveMs: 2900 }).listRunners());
    expect(error.kind).toBe('network');
    expect(error.message).toMatch(/no time left/);
    expect(server.requests).toEqual([]);
  });

  test('a 5xx back-off longer than the time left is not waited: the error comes back at once', async () => {
    server.fail('GET', RUNNERS, { kind: 'status', status: 503 }, 10);
    const deadline = Date.now() + 1000;
    const started = Date.now();

    const error = await failure(port({}, { retryBaseMs: 300, retries: 5, remainingTimeMs: () => deadline - Date.now(), reserveMs: 0 }).listRunners());

    // 1st answer at ~0 ms, 300 ms back-off fits; 2nd at ~300 ms, a 1200 ms back-off would not.
    expect(error.kind).toBe('server');
    expect(server.requestsTo('GET', RUNNERS)).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(900);
  });

  test('a rate-limit wait longer than the time left is not begun', async () => {
    server.fail('GET', RUNNERS, { kind: 'secondary-rate-limit', retryAfter: 1 });
    const started = Date.now();
    const error = await failure(port({}, { remainingTimeMs: () => 6000, reserveMs: 5500 }).listRunners());
    expect(error.kind).toBe('rate-limited');
    expect(Date.now() - started).toBeLessThan(900);
  });

  test('a 401 drops the client: the next call reads the (rotated) secret again', async () => {
    let reads = 0;
    const github = port({ auth: 'token' }, { readCredentials: async () => (++reads === 1 ? 'ghp_revokedTokenRevokedToken00' : server.token) });

    expect((await failure(github.listRunners())).kind).toBe('auth');
    expect(await github.listRunners()).toEqual([]);
    expect(reads).toBe(2);
  });
});

describe('credentials', () => {
  test.each([
    ['not JSON', 'app', 'definitely-not-json', /not a JSON object/],
    ['broken JSON', 'app', '{"appId": "1", privateKey', /not valid JSON/],
    ['no private key', 'app', '{"appId": "1"}', /"privateKey" is missing/],
    ['non-numeric appId', 'app', '{"appId": "my-app", "privateKey": "x"}', /"appId" is missing or not/],
    ['unreadable PEM', 'app', JSON.stringify({ appId: '1', privateKey: '-----BEGIN RSA PRIVATE KEY-----\nnotakey\n-----END RSA PRIVATE KEY-----' }), /cannot be read/],
    ['bad installationId', 'app', '__APP_WITH_BAD_INSTALLATION__', /"installationId" must be/],
    ['empty token', 'token', '{"token": ""}', /missing or empty/],
    ['token with white space', 'token', 'ghp_a b', /white space/],
    ['App secret for a token connection', 'token', '__APP__', /holds GitHub App credentials/],
  ] as const)('%s: kind credentials, the expected format named, the value never echoed', async (_case, auth, raw, problem) => {
    const secret = raw === '__APP__' ? server.appCredentials()
      : raw === '__APP_WITH_BAD_INSTALLATION__' ? JSON.stringify({ appId: '1', privateKey: server.privateKeyPem, installationId: 'abc' }) : raw;

    const error = await failure(port({ auth }, { readCredentials: async () => secret }).listRunners());

    expect(error.kind).toBe('credentials');
    expect(error.message).toMatch(problem);
    expect(error.message).toMatch(auth === 'app' ? /Expected JSON \{"appId"/ : /Expected the token itself/);
    for (const fragment of [secret, 'notakey', 'my-app', 'ghp_a', 'MII']) {
      expect(error.message).not.toContain(fragment);
    }
    expect(server.requests).toEqual([]);
  });

  test('an unreadable secret: kind credentials; the next call tries again', async () => {
    let reads = 0;
    const github = port({}, {
      readCredentials: async () => {
        if (++reads === 1) throw Object.assign(new Error('User is not authorized to perform secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' });
        return server.appCredentials();
      },
    });

    const error = await failure(github.listRunners());
    expect(error.kind).toBe('credentials');
    expect(error.message).toMatch(/AccessDeniedException/);
    expect(await github.listRunners()).toEqual([]);
  });
});

describe('headers and rate-limit information', () => {
  test('every request, the App token request included, sends the API version and media type', async () => {
    await port().listRunners();
    expect(server.requests.map((r) => r.path)).toEqual(['/app/installations/77/access_tokens', '/orgs/acme/actions/runners']);
    for (const request of server.requests) {
      expect(request.headers['x-github-api-version']).toBe('2022-11-28');
      expect(request.headers.accept).toBe('application/vnd.github+json');
      expect(request.headers['user-agent']).toMatch(/^cdk-github-runner-fleet /);
    }
  });

  test('reports the rate-limit headers of every answer, per resource', async () => {
    const seen: RateLimitInfo[] = [];
    const github = port({}, { onRateLimit: (info) => seen.push(info) });

    await github.listRunners();
    await github.generateJitConfig({ name: 'n', labels: ['l'], runnerGroupId: 1 });

    expect(seen).toEqual([
      { limit: 5000, remaining: 4999, resource: 'core' },
      { limit: 5000, remaining: 4998, resource: 'core' },
      { limit: 10000, remaining: 9999, resource: 'actions_runner_registration' },
    ]);
  });

  test('also for failed answers, and warns when the limit runs low', async () => {
    const seen: RateLimitInfo[] = [];
    server.spendRateLimit(4900);
    server.fail('GET', RUNNERS, { kind: 'status', status: 404 });

    await failure(port({}, { onRateLimit: (info) => seen.push(info) }).listRunners());

    expect(seen.map((i) => i.remaining)).toEqual([99, 98]);
    const warning = logger.entries.find((e) => e.message === 'GitHub rate limit running low');
    expect(warning?.attributes).toMatchObject({ remaining: 99, limit: 5000, resource: 'core' });
    expect(warning?.attributes?.resetsInSeconds).toBeGreaterThan(3000);
  });
});

describe('registrationUrlFor', () => {
  test.each([
    ['https://api.github.com', undefined, 'https://github.com/acme'],
    ['https://api.github.com/', 'infra', 'https://github.com/acme/infra'],
    ['https://api.octo-corp.ghe.com', undefined, 'https://octo-corp.ghe.com/acme'],
    ['https://api.octo-corp.ghe.com', 'infra', 'https://octo-corp.ghe.com/acme/infra'],
    ['https://ghes.example.com/api/v3', 'infra', 'https://ghes.example.com/acme/infra'],
    ['https://ghes.example.com/api/v3/', undefined, 'https://ghes.example.com/acme'],
    ['http://127.0.0.1:8080/api/v3', undefined, 'http://127.0.0.1:8080/acme'],
    ['http://127.0.0.1:8080', 'infra', 'http://127.0.0.1:8080/acme/infra'],
  ])('%s (repo %s) → %s', (apiUrl, repo, expected) => {
    expect(registrationUrlFor({ apiUrl, owner: 'acme', repo })).toBe(expected);
  });

  test('the port answers it without a request', () => {
    expect(port({ apiUrl: 'https://api.github.com' }).registrationUrl()).toBe('https://github.com/acme');
    expect(server.requests).toEqual([]);
  });
});

describe('the GitHub App\'s webhook deliveries (recovery of failed deliveries)', () => {
  const HOOK_DELIVERIES = /^\/app\/hook\/deliveries$/;

  function seedDeliveries(count: number, newest: Date): void {
    // Oldest first, one a minute up to `newest`.
    for (let i = count - 1; i >= 0; i--) {
      server.recordHookDelivery({
        guid: `guid-${i}`,
        body: JSON.stringify({ action: 'queued' }),
        statusCode: i % 2 === 0 ? 202 : 500,
        deliveredAt: new Date(newest.getTime() - i * 60_000).toISOString(),
      });
    }
  }

  test('listed with the App\'s JWT (no installation token), newest first, following the cursor until a page reaches `since`', async () => {
    const newest = new Date();
    seedDeliveries(250, newest);
    const since = new Date(newest.getTime() - 150 * 60_000);

    const deliveries = await port({}, { readCredentials: async () => server.appCredentials() }).listAppHookDeliveries!(since, 5);

    // 151 deliveries are at or after `since`: two pages of 100 read, the third never.
    expect(deliveries).toHaveLength(151);
    expect(deliveries[0]).toEqual({
      id: expect.any(Number), guid: 'guid-0', deliveredAt: newest.toISOString(), redelivery: false, statusCode: 202, event: 'workflow_job', action: 'queued',
    });
    const lists = server.requestsTo('GET', HOOK_DELIVERIES);
    expect(lists.map((r) => [r.query.get('per_page'), r.query.has('cursor')])).toEqual([['100', false], ['100', true]]);
    for (const request of lists) {
      expect(server.jwtProblem(String(request.headers.authorization).replace(/^bearer /i, ''))).toBeUndefined();
    }
    expect(server.requestsTo('POST', /access_tokens$/)).toEqual([]);
  });

  test('at most maxPages pages, however far `since` goes back', async () => {
    seedDeliveries(250, new Date());
    const deliveries = await port().listAppHookDeliveries!(new Date(0), 2);
    expect(deliveries).toHaveLength(200);
    expect(server.requestsTo('GET', HOOK_DELIVERIES)).toHaveLength(2);
  });

  test('a redelivery is a POST to the attempt with the App\'s JWT; GitHub records a new attempt of the same guid', async () => {
    const original = server.recordHookDelivery({ guid: 'lost', body: '{"action":"queued"}', statusCode: 500 });
    await port().redeliverAppHookDelivery!(original.id);
    const attempts = server.requestsTo('POST', /^\/app\/hook\/deliveries\/\d+\/attempts$/);
    expect(attempts.map((r) => [r.path, r.status])).toEqual([[`/app/hook/deliveries/${original.id}/attempts`, 202]]);
    expect(server.hookDeliveries.map((d) => [d.guid, d.redelivery, d.status_code])).toEqual([['lost', false, 500], ['lost', true, 200]]);
  });

  test('an unknown delivery is a not-found error; a personal access token cannot list deliveries at all', async () => {
    expect((await failure(port().redeliverAppHookDelivery!(1))).kind).toBe('not-found');
    const token = port({ auth: 'token' }, { readCredentials: async () => server.token });
    expect((await failure(token.listAppHookDeliveries!(new Date(0), 1))).kind).toBe('credentials');
    expect(server.requestsTo('GET', HOOK_DELIVERIES)).toEqual([]);
  });
});
