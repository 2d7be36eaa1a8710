import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { GitHubConnection, GitHubScope } from '../../src/github/connection';
import { GitHubCredentials } from '../../src/github/credentials';
import { labelProblems, parseApiUrl } from '../../src/github/names';

function credentials(): GitHubCredentials {
  const stack = new Stack(new App(), 'S');
  return GitHubCredentials.fromAppSecret(secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'gh'));
}

describe('GitHubConnection', () => {
  test('organization scope registers against the organization page on github.com', () => {
    const c = GitHubConnection.organization('acme', { credentials: credentials() });
    expect(c.scope).toBe(GitHubScope.ORGANIZATION);
    expect(c.apiUrl).toBe('https://api.github.com');
    expect(c.registrationUrl).toBe('https://github.com/acme');
  });

  test.each([
    ['https://api.github.com', 'https://github.com/acme/infra'],
    ['https://api.github.com/', 'https://github.com/acme/infra'],
    ['https://api.octo.ghe.com', 'https://octo.ghe.com/acme/infra'],
    ['https://ghes.example.com/api/v3', 'https://ghes.example.com/acme/infra'],
    ['https://ghes.example.com/api/v3/', 'https://ghes.example.com/acme/infra'],
  ])('repository scope with API %s registers against %s', (apiUrl, expected) => {
    const c = GitHubConnection.repository('acme', 'infra', { credentials: credentials(), apiUrl });
    expect(c.scope).toBe(GitHubScope.REPOSITORY);
    expect(c.registrationUrl).toBe(expected);
  });

  test.each([
    ['http://ghes.example.com/api/v3', /must use https/],
    ['not a url', /is not a URL/],
    ['https://github.com', /web address, not the API/],
    ['https://octo.ghe.com', /web address, not the API/],
    ['https://ghes.example.com', /path is not \/api\/v3: use https:\/\/ghes.example.com\/api\/v3/],
    ['https://api.github.com/v3', /has a path/],
    ['https://user:pw@ghes.example.com/api/v3', /must not carry credentials/],
  ])('fails for the malformed API URL %s', (apiUrl, message) => {
    expect(() => GitHubConnection.organization('acme', { credentials: credentials(), apiUrl })).toThrow(message);
  });

  test.each(['', '-acme', 'acme-', 'ac--me', 'a'.repeat(40), 'acme corp'])('fails for the organization name %p', (org) => {
    expect(() => GitHubConnection.organization(org, { credentials: credentials() }))
      .toThrow(/GitHubConnection.organization\(organization\) .* is not a GitHub organization or user name/);
  });

  test.each(['', '.', '..', 'has space', 'a'.repeat(101)])('fails for the repository name %p', (repo) => {
    expect(() => GitHubConnection.repository('acme', repo, { credentials: credentials() }))
      .toThrow(/GitHubConnection.repository\(repository\) .* is not a GitHub repository name/);
  });

  test('fails without credentials, naming the fix', () => {
    expect(() => GitHubConnection.organization('acme', {} as any)).toThrow(/options.credentials is missing: pass GitHubCredentials.fromAppSecret/);
  });
});

describe('GitHubConnection.enterprise', () => {
  const stack = () => new Stack(new App(), 'S');
  test('registers against the enterprise page, on github.com or a GHES host', () => {
    const secret = secretsmanager.Secret.fromSecretNameV2(stack(), 'Pat', 'pat');
    const pat = GitHubCredentials.fromPersonalAccessTokenSecret(secret);
    const cloud = GitHubConnection.enterprise('acme-corp', { credentials: pat });
    expect(cloud.scope).toBe(GitHubScope.ENTERPRISE);
    expect(cloud.registrationUrl).toBe('https://github.com/enterprises/acme-corp');
    expect(GitHubConnection.enterprise('acme-corp', { credentials: pat, apiUrl: 'https://ghe.example.com/api/v3' }).registrationUrl)
      .toBe('https://ghe.example.com/enterprises/acme-corp');
  });

  test('fails with App credentials: GitHub offers enterprise runners to tokens only', () => {
    const secret = secretsmanager.Secret.fromSecretNameV2(stack(), 'App', 'app');
    expect(() => GitHubConnection.enterprise('acme-corp', { credentials: GitHubCredentials.fromAppSecret(secret) }))
      .toThrow(/GitHub Apps cannot manage enterprise runners .*use GitHubCredentials.fromPersonalAccessTokenSecret\(secret\) with a classic token that has the manage_runners:enterprise scope/);
  });

  test.each(['', '-acme', 'acme corp', 'a'.repeat(101)])('fails for the enterprise slug %p', (slug) => {
    const secret = secretsmanager.Secret.fromSecretNameV2(stack(), 'Pat', 'pat');
    expect(() => GitHubConnection.enterprise(slug, { credentials: GitHubCredentials.fromPersonalAccessTokenSecret(secret) }))
      .toThrow(/GitHubConnection.enterprise\(enterprise\) \(".*"\) is not an enterprise slug/);
  });
});

describe('parseApiUrl', () => {
  test('keeps the GHES host and port', () => {
    expect(parseApiUrl('apiUrl', 'https://ghes.example.com:8443/api/v3')).toEqual({
      apiUrl: 'https://ghes.example.com:8443/api/v3',
      webUrl: 'https://ghes.example.com:8443',
    });
  });
});

describe('labelProblems', () => {
  test('accepts ordinary labels', () => {
    expect(labelProblems('labels', ['linux', 'x64', 'gpu.large', 'team:infra'])).toEqual([]);
  });
  test.each([
    [[], /labels is empty/],
    [['has space'], /labels contains "has space"/],
    [['a,b'], /labels contains "a,b"/],
    [['self-hosted'], /GitHub adds it/],
    [['Linux', 'linux'], /"linux" more than once/],
    [['gpu', 'GPU', 'Gpu'], /"GPU" more than once/],
    [['x'.repeat(101)], /1-100/],
    [Array.from({ length: 91 }, (_, i) => `l${i}`), /at most 90/],
  ])('rejects %p', (labels, message) => {
    const problems = labelProblems('labels', labels as string[]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });
  test('every mistake at once, each label once', () => {
    expect(labelProblems('labels', ['ok', 'has space', 'self-hosted', 'OK', 'a,b', 'ok', 'x', 'X'])).toEqual([
      'labels contains "has space": a label is 1-100 letters, digits, \'.\', \'_\', \':\', \'+\' or \'-\', starting with a letter or digit, without spaces or commas',
      'labels contains "self-hosted": GitHub adds it to every self-hosted runner; remove it',
      'labels contains "OK" more than once (labels are case-insensitive): remove the duplicates',
      'labels contains "a,b": a label is 1-100 letters, digits, \'.\', \'_\', \':\', \'+\' or \'-\', starting with a letter or digit, without spaces or commas',
      'labels contains "X" more than once (labels are case-insensitive): remove the duplicates',
    ]);
  });
});
