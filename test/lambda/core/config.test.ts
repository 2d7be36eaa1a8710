import fc from 'fast-check';
import { ConfigError, parseFleetConfig } from '../../../lambda/core/config';
import { fleetEntry, runtimeConfig } from '../fixtures';

function problemsOf(raw: string | undefined): string[] {
  try {
    parseFleetConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('parseFleetConfig', () => {
  test('accepts what the constructs write', () => {
    const config = runtimeConfig([fleetEntry(), fleetEntry({ name: 'arm', mode: 'persistent', runnerGroupName: 'Builders' })]);
    expect(parseFleetConfig(JSON.stringify(config))).toEqual(config);
  });

  test('accepts a loopback http URL (tests) and strips a trailing slash', () => {
    const config = runtimeConfig([fleetEntry()], 'http://127.0.0.1:8080/api/v3/');
    expect(parseFleetConfig(JSON.stringify(config)).github.apiUrl).toBe('http://127.0.0.1:8080/api/v3');
  });

  test.each([
    [undefined, 'the variable is missing or empty'],
    ['', 'the variable is missing or empty'],
    ['{', 'not JSON'],
    ['[]', 'expected a JSON object'],
  ])('rejects %p', (raw, message) => {
    expect(problemsOf(raw).join()).toContain(message);
  });

  test('enterprise scope; a fleet naming its runner group without an id has the id looked up', () => {
    const config = { ...runtimeConfig([fleetEntry({ runnerGroupId: undefined, runnerGroupName: 'Builders' })]) };
    const parsed = parseFleetConfig(JSON.stringify({ ...config, github: { ...config.github, scope: 'enterprise', owner: 'acme-corp' } }));
    expect(parsed.github.scope).toBe('enterprise');
    expect(parsed.fleets[0].runnerGroupId).toBeUndefined();
    expect(problemsOf(JSON.stringify({ ...config, github: { ...config.github, scope: 'enterprise', repo: 'x' } })))
      .toContain('github.repo: not allowed for enterprise scope, got "x"');
    expect(problemsOf(JSON.stringify(runtimeConfig([fleetEntry({ runnerGroupId: undefined })]))))
      .toContain('fleets[0].runnerGroupId: expected a whole number >= 1, got undefined');
  });

  test('reports every bad field with its path and value', () => {
    const bad = {
      version: 2,
      github: { scope: 'galaxy', owner: '', apiUrl: 'http://example.com', secretArn: 'x', auth: 'oauth' },
      fleets: [
        { ...fleetEntry(), mode: 'sometimes', secretPrefix: 'no-slash', runnerGroupId: 0 },
        { ...fleetEntry(), fleetLabel: 'not-a-label', offlineGraceSeconds: -1 },
      ],
    };
    const problems = problemsOf(JSON.stringify(bad));
    expect(problems).toEqual(expect.arrayContaining([
      'version: expected 1, got 2',
      'github.scope: expected "organization", "repository" or "enterprise", got "galaxy"',
      'github.owner: expected a non-empty string, got ""',
      'github.apiUrl: expected an https URL (http only on loopback), got "http://example.com"',
      'github.auth: expected "app" or "token", got "oauth"',
      'fleets[0].mode: expected "ephemeral" or "persistent", got "sometimes"',
      'fleets[0].secretPrefix: must end with "/", got "no-slash"',
      'fleets[0].runnerGroupId: expected a whole number >= 1, got 0',
      'fleets[1].name: "linux" appears twice',
      'fleets[1].fleetLabel: "not-a-label" must be one of the labels',
      'fleets[1].offlineGraceSeconds: expected a whole number >= 0, got -1',
    ]));
  });

  test('directScaleOut: true when the constructs write true, false when they leave it out; anything else is refused', () => {
    const { directScaleOut: _omitted, ...absent } = fleetEntry({ name: 'absent' });
    const config = { ...runtimeConfig(), fleets: [fleetEntry({ name: 'on', directScaleOut: true }), absent] };
    expect(parseFleetConfig(JSON.stringify(config)).fleets.map((f) => f.directScaleOut)).toEqual([true, false]);
    const bad = { ...runtimeConfig(), fleets: [{ ...fleetEntry(), directScaleOut: 'yes' }] };
    expect(problemsOf(JSON.stringify(bad))).toContain('fleets[0].directScaleOut: expected true or false, got "yes"');
  });

  test('every fleet names its instance role (the instance agent serves only its sessions)', () => {
    const { instanceRoleName: _omitted, ...absent } = fleetEntry();
    expect(problemsOf(JSON.stringify({ ...runtimeConfig(), fleets: [absent] })))
      .toContain('fleets[0].instanceRoleName: expected a non-empty string, got undefined');
    expect(problemsOf(JSON.stringify({ ...runtimeConfig(), fleets: [fleetEntry({ instanceRoleName: '' })] })))
      .toContain('fleets[0].instanceRoleName: expected a non-empty string, got ""');
  });

  test('repository scope needs a repository', () => {
    const config = { ...runtimeConfig(), github: { ...runtimeConfig().github, scope: 'repository' } };
    expect(problemsOf(JSON.stringify(config))).toContain('github.repo: required for repository scope, got undefined');
  });

  test('decoded by the one schema: absent optional fields take its defaults, fields it does not describe never reach a handler', () => {
    const { idleTarget: _i, os: _o, architecture: _a, directScaleOut: _d, ...minimal } = fleetEntry();
    const raw = JSON.stringify({ ...runtimeConfig(), extra: 1, github: { ...runtimeConfig().github, extra: 2 }, fleets: [{ ...minimal, extra: 3 }] });
    const parsed = parseFleetConfig(raw);
    expect(parsed.fleets[0]).toEqual({ ...minimal, idleTarget: 0, os: 'linux', architecture: 'x64', directScaleOut: false });
    expect(parsed).not.toHaveProperty('extra');
    expect(parsed.github).not.toHaveProperty('extra');
    expect(parsed.fleets[0]).not.toHaveProperty('extra');
  });

  test('the webhook section is checked field by field', () => {
    expect(problemsOf(JSON.stringify({ ...runtimeConfig(), webhook: { tableName: '', secretArn: 'arn', maxBodyBytes: 0 } })))
      .toEqual(['webhook.tableName: expected a non-empty string, got ""', 'webhook.maxBodyBytes: expected a whole number >= 1, got 0']);
    expect(problemsOf(JSON.stringify({ ...runtimeConfig(), webhook: 'yes' }))).toEqual(['webhook: expected an object']);
  });

  test('property: every well-formed configuration round-trips', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    const names = fc.uniqueArray(name, { minLength: 1, maxLength: 5 });
    fc.assert(fc.property(names, fc.boolean(), fc.nat(86400), fc.boolean(), (fleetNames, persistent, grace, direct) => {
      const config = runtimeConfig(fleetNames.map((n) => fleetEntry({
        name: n, mode: persistent ? 'persistent' : 'ephemeral', offlineGraceSeconds: grace, directScaleOut: direct,
      })));
      expect(parseFleetConfig(JSON.stringify(config))).toEqual(config);
    }));
  });
});
