import { createGitHubPort, GitHubPortOptions, registrationUrlFor } from '../../../lambda/adapters/github';
import type { GitHubRuntimeConfig } from '../../../src/contract';
import { GitHubError } from '../../../lambda/ports';
import { FakeGitHubServer } from '../../fixtures/fake-github-server';

let server: FakeGitHubServer;
beforeEach(async () => {
  server = await new FakeGitHubServer().start();
});
afterEach(async () => {
  await server.stop();
});

function appSecret(installationId?: number): string {
  return JSON.stringify({ appId: server.appId, privateKey: server.privateKeyPem, installationId });
}

function port(overrides: Partial<GitHubRuntimeConfig> = {}, options: Partial<GitHubPortOptions> = {}) {
  const config: GitHubRuntimeConfig = {
    scope: 'organization', owner: 'acme', apiUrl: server.url, secretArn: 'arn', auth: 'app', ...overrides,
  };
  return createGitHubPort(config, {
    readCredentials: async () => appSecret(server.installationId),
    retryBaseMs: 10,
    requestTimeoutMs: 2000,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<GitHubError> {
  try {
    await promise;
  } catch (e) {
    return e as GitHubError;
  }
  throw new Error('expected a failure');
}

describe('GitHub adapter over HTTP (real Octokit)', () => {
  test('lists every page with per_page=100: 250 runners in 3 requests', async () => {
    server.seedRunners(250);
    const runners = await port().listRunners();
    expect(runners).toHaveLength(250);
    const lists = server.requestsTo('GET', /\/orgs\/acme\/actions\/runners$/);
    expect(lists).toHaveLength(3);
    expect(lists.map((r) => r.query.get('per_page'))).toEqual(['100', '100', '100']);
    expect(runners[0]).toEqual({ id: 1, name: 'seed-0', status: 'offline', busy: true, labels: ['fleet-linux'], ephemeral: true, runnerGroupId: 1 });
  });

  test('mints the App installation token once and reuses it', async () => {
    server.seedRunners(5);
    const github = port();
    await github.listRunners();
    await github.listRunners();
    await github.createRegistrationToken();
    expect(server.requestsTo('POST', /\/app\/installations\/77\/access_tokens$/)).toHaveLength(1);
    const auth = server.requestsTo('GET', /actions\/runners$/).map((r) => r.headers.authorization);
    expect(new Set(auth)).toEqual(new Set(['token ghs_installation1']));
  });

  test('looks the installation up when the secret has no installationId', async () => {
    const github = port({}, { readCredentials: async () => appSecret(undefined) });
    await github.listRunners();
    expect(server.requestsTo('GET', /\/orgs\/acme\/installation$/)).toHaveLength(1);
    expect(server.requestsTo('POST', /access_tokens$/)).toHaveLength(1);
  });

  test('repository scope with a personal access token on a GHES base URL', async () => {
    server.addRunner({ name: 'r1' });
    const github = port({ scope: 'repository', repo: 'infra', auth: 'token', apiUrl: `${server.url}/api/v3` },
      { readCredentials: async () => JSON.stringify({ token: 'ghp_validtoken' }) });
    expect((await github.listRunners()).map((r) => r.name)).toEqual(['r1']);
    const request = server.requests[server.requests.length - 1];
    expect(request.path).toBe('/repos/acme/infra/actions/runners');
    expect(request.headers['x-github-api-version']).toBe('2022-11-28');
    expect(github.registrationUrl()).toBe(`${server.url}/acme/infra`);
  });

  test('finds a runner by exact name with the name filter', async () => {
    server.addRunner({ name: 'linux-i-0123456789abcdef0' });
    server.addRunner({ name: 'other' });
    const found = await port().findRunnerByName('linux-i-0123456789abcdef0');
    expect(found?.name).toBe('linux-i-0123456789abcdef0');
    expect(server.requests[server.requests.length - 1].query.get('name')).toBe('linux-i-0123456789abcdef0');
    expect(await port().findRunnerByName('missing')).toBeUndefined();
  });

  test('generates a JIT configuration with the documented body', async () => {
    const jit = await port().generateJitConfig({ name: 'n1', labels: ['linux', 'fleet-linux'], runnerGroupId: 1 });
    expect(jit.encodedJitConfig).toBe(server.issuedJitConfigs[0]);
    expect(server.requestsTo('POST', /generate-jitconfig$/)[0].body).toEqual({ name: 'n1', runner_group_id: 1, labels: ['linux', 'fleet-linux'], work_folder: '_work' });
  });

  test('a JIT name that exists answers 409: kind conflict', async () => {
    server.addRunner({ name: 'n1' });
    const error = await failure(port().generateJitConfig({ name: 'n1', labels: ['linux'], runnerGroupId: 1 }));
    expect(error).toBeInstanceOf(GitHubError);
    expect(error.kind).toBe('conflict');
    expect(error.status).toBe(409);
    expect(error.requestId).toMatch(/^REQ-/);
  });

  test('an invalid JIT request answers 422: kind validation', async () => {
    const error = await failure(port().generateJitConfig({ name: 'n1', labels: [], runnerGroupId: 1 }));
    expect(error.kind).toBe('validation');
  });

  test.each([
    [() => server.addRunner({ busy: false }).id, 'deleted'],
    [() => server.addRunner({ busy: true }).id, 'busy'],
    [() => 9999, 'not-found'],
  ])('%#: deleting a runner: %s', async (id, outcome) => {
    expect(await port().deleteRunner(id())).toBe(outcome);
  });

  test('5xx then success: retried by plugin-retry', async () => {
    server.fail('GET', /actions\/runners$/, { kind: 'status', status: 502 }, 2);
    server.seedRunners(3);
    expect(await port().listRunners()).toHaveLength(3);
    expect(server.requestsTo('GET', /actions\/runners$/)).toHaveLength(3);
  });

  test('5xx for ever: kind server after the retries', async () => {
    server.fail('GET', /actions\/runners$/, { kind: 'status', status: 503 }, 10);
    const error = await failure(port({}, { retries: 2 }).listRunners());
    expect(error.kind).toBe('server');
    expect(server.requestsTo('GET', /actions\/runners$/)).toHaveLength(3);
  });

  test('429 with retry-after is honoured by plugin-throttling', async () => {
    server.fail('POST', /registration-token$/, { kind: 'rate-limit', retryAfter: 1 });
    const started = Date.now();
    const token = await port().createRegistrationToken();
    expect(token.token).toBe('REGTOKEN1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test('a secondary rate limit (403) is retried after retry-after', async () => {
    server.fail('POST', /registration-token$/, { kind: 'secondary-rate-limit', retryAfter: 1 });
    expect((await port().createRegistrationToken()).token).toBe('REGTOKEN1');
    expect(server.requestsTo('POST', /registration-token$/)).toHaveLength(2);
  });

  test('rate limits that persist give up with kind rate-limited', async () => {
    server.fail('POST', /registration-token$/, { kind: 'secondary-rate-limit', retryAfter: 120 }, 5);
    const error = await failure(port().createRegistrationToken());
    expect(error.kind).toBe('rate-limited');
  });

  test('a request slower than the timeout fails with kind network', async () => {
    server.fail('GET', /actions\/runners$/, { kind: 'delay', ms: 1500 }, 5);
    const error = await failure(port({}, { requestTimeoutMs: 200, retries: 0 }).listRunners());
    expect(error.kind).toBe('network');
  });

  test('bad credentials: kind auth', async () => {
    const github = port({ auth: 'token' }, { readCredentials: async () => 'ghp_wrong' });
    expect((await failure(github.listRunners())).kind).toBe('auth');
  });

  test.each([
    ['not json at all', 'app', /must be JSON/],
    ['{"appId": "1"}', 'app', /needs "privateKey"/],
    ['{"privateKey": "-----BEGIN RSA PRIVATE KEY-----"}', 'app', /needs "appId"/],
    ['{"token": ""}', 'token', /must hold the token/],
  ] as const)('malformed credentials %p: kind credentials, value never echoed', async (secret, auth, message) => {
    const error = await failure(port({ auth }, { readCredentials: async () => secret }).listRunners());
    expect(error.kind).toBe('credentials');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(secret);
  });

  test('reports rate-limit headers', async () => {
    const seen: Array<{ remaining: number; resource: string }> = [];
    await port({}, { onRateLimit: (info) => seen.push(info) }).listRunners();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toMatchObject({ limit: 5000, resource: 'core' });
  });
});

describe('registrationUrlFor', () => {
  test.each([
    ['https://api.github.com', undefined, 'https://github.com/acme'],
    ['https://api.github.com', 'infra', 'https://github.com/acme/infra'],
    ['https://api.octo.ghe.com', undefined, 'https://octo.ghe.com/acme'],
    ['https://ghes.example.com/api/v3', 'infra', 'https://ghes.example.com/acme/infra'],
  ])('%s (%s) → %s', (apiUrl, repo, expected) => {
    expect(registrationUrlFor({ apiUrl, owner: 'acme', repo })).toBe(expected);
  });
});
