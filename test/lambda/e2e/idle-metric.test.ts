/**
 * The idle-metric function end to end: the real entry point, Octokit over HTTP against the fake GitHub,
 * EMF lines on stdout.
 */
import { FakeGitHubServer, seedRunners } from '../../fixtures/fake-github-server';
import { fleetEntry, runtimeConfig } from '../fixtures';
import { FAST, lambdaContext, loadFunction, OutputCapture, useFakeGitHub } from './harness';

let server: FakeGitHubServer;
let output: OutputCapture;
useFakeGitHub((s, o) => {
  server = s;
  output = o;
});

const fleets = ['a', 'b', 'c'].map((name) => fleetEntry({ name }));

test('three fleets, 250 runners: one listing of three pages per tick, counts per fleet as EMF, one App token for every tick', async () => {
  seedRunners(server, 100, { prefix: 'a', labelNames: ['fleet-a'] });
  seedRunners(server, 100, { prefix: 'b', labelNames: ['FLEET-B'], busy: false, status: 'online' });
  seedRunners(server, 50, { prefix: 'c', labelNames: ['fleet-c'], busy: true, status: 'online' });
  const fn = loadFunction('idle-metric', runtimeConfig(fleets, server.url), () => server.appCredentials());

  const first = await fn.handler({ 'detail-type': 'Scheduled Event' }, lambdaContext('idle-metric'));
  await fn.handler({ 'detail-type': 'Scheduled Event' }, lambdaContext('idle-metric'));

  // seedRunners: every third offline, every fourth busy (for fleet a).
  expect(first.counts).toEqual({
    a: { idle: 50, busy: 16, offline: 34, total: 100 },
    b: { idle: 100, busy: 0, offline: 0, total: 100 },
    c: { idle: 0, busy: 50, offline: 0, total: 50 },
  });
  expect(server.requestsTo('GET', /\/orgs\/acme\/actions\/runners$/).map((r) => r.query.get('per_page'))).toEqual(['100', '100', '100', '100', '100', '100']);
  expect(server.requestsTo('POST', /access_tokens$/)).toHaveLength(1);
  for (const line of output.metrics()) {
    expect(line._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'GitHubRunnerFleet', Dimensions: [['Fleet']] });
  }
  expect([output.metric('IdleRunners', 'a'), output.metric('BusyRunners', 'a'), output.metric('OfflineRunners', 'a')]).toEqual([100, 32, 68]);
  expect(output.metric('BusyRunners', 'c')).toBe(100);
});

test('GitHub down: no counts are published (a zero would scale out), the error is counted per fleet', async () => {
  server.fail('GET', /\/actions\/runners$/, { kind: 'status', status: 502 }, 20);
  const fn = loadFunction('idle-metric', runtimeConfig(fleets, server.url), () => server.appCredentials(), FAST);

  const report = await fn.handler({}, lambdaContext('idle-metric'));

  expect(report.ok).toBe(false);
  expect(output.metrics().filter((l) => 'IdleRunners' in l)).toEqual([]);
  expect(fleets.map((f) => output.metric('GitHubErrors', f.name))).toEqual([1, 1, 1]);
  const errors = output.logs().filter((l) => l.level === 'ERROR');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ errorKind: 'server', status: 502, githubRequestId: expect.stringMatching(/^FAKE:/), function_request_id: expect.any(String) });
  // Each failed attempt is a warning with GitHub's request id.
  expect(output.logs().filter((l) => l.level === 'WARN' && /^Octokit: GET .* - 502 with id FAKE:/.test(l.message))).toHaveLength(3);
});
