/**
 * The idle-metric function end to end: the real entry point, Octokit over HTTP against the fake GitHub,
 * EMF lines on stdout.
 */
import { FakeGitHubServer, seedRunners } from '../../fixtures/fake-github-server';
import { fleetEntry, runtimeConfig } from '../fixtures';
import { describeGroups, FAST, lambdaContext, loadFunction, OutputCapture, useFakeGitHub } from './harness';

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
  describeGroups(fn.autoScaling, fn.as, fleets.map((f) => ({ name: f.autoScalingGroupName, desired: 0 })));

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
  // Each tick reads each fleet's group once.
  expect(fn.autoScaling.commandCalls(fn.as.DescribeAutoScalingGroupsCommand)).toHaveLength(6);
  expect(output.logs().filter((l) => l.level === 'WARN' || l.level === 'ERROR')).toEqual([]);
});

test('the capacity controller: one DescribeAutoScalingGroups per fleet (and a read-back after a raise), SetDesiredCapacity only where the direct path is on and the gap positive, the gap at 1-second resolution', async () => {
  const controlled = [
    fleetEntry({ name: 'a', idleTarget: 1, directScaleOut: true }),
    fleetEntry({ name: 'b', idleTarget: 1, directScaleOut: true }),
    fleetEntry({ name: 'c', idleTarget: 1 }),
  ];
  // a and c saturated: every runner busy on a protected instance; b has an idle runner.
  server.addRunner({ name: 'a-i-1', labelNames: ['fleet-a'], status: 'online', busy: true });
  server.addRunner({ name: 'a-i-2', labelNames: ['fleet-a'], status: 'online', busy: true });
  server.addRunner({ name: 'b-i-3', labelNames: ['fleet-b'], status: 'online', busy: false });
  server.addRunner({ name: 'c-i-4', labelNames: ['fleet-c'], status: 'online', busy: true });
  const fn = loadFunction('idle-metric', runtimeConfig(controlled, server.url), () => server.appCredentials());
  const groups = [
    { name: 'a-asg', desired: 2, max: 20, instances: [{ id: 'i-1', protected: true }, { id: 'i-2', protected: true }] },
    { name: 'b-asg', desired: 1, max: 20, instances: [{ id: 'i-3' }] },
    { name: 'c-asg', desired: 1, max: 20, instances: [{ id: 'i-4', protected: true }] },
  ];
  describeGroups(fn.autoScaling, fn.as, groups);

  const report = await fn.handler({ 'detail-type': 'Scheduled Event' }, lambdaContext('idle-metric'));

  expect(fn.autoScaling.commandCalls(fn.as.DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input))
    .toEqual(['a-asg', 'a-asg', 'b-asg', 'c-asg'].map((name) => ({ AutoScalingGroupNames: [name] })));
  // a: 2 x 2 busy + 1 = 5, raised directly; b: 0 busy + 1 = 1, nothing to do; c: 2 x 1 + 1 = 3, left to the alarm.
  expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand).map((c) => c.args[0].input))
    .toEqual([{ AutoScalingGroupName: 'a-asg', DesiredCapacity: 5, HonorCooldown: false }]);
  expect(groups.map((g) => g.desired)).toEqual([5, 1, 1]);
  expect(report.capacity).toEqual({
    a: expect.objectContaining({ mode: 'saturated', need: 5, raisedTo: 5 }),
    b: expect.objectContaining({ mode: 'steady', need: 1, gap: 0 }),
    c: expect.objectContaining({ mode: 'saturated', need: 3, gap: 2 }),
  });
  expect(['a', 'b', 'c'].map((f) => output.metric('CapacityGap', f))).toEqual([0, 0, 2]);
  expect(['a', 'b', 'c'].map((f) => output.metric('CapacityNeeded', f))).toEqual([5, 1, 3]);
  const gapLine = output.metrics().find((l) => l.Fleet === 'c' && 'CapacityGap' in l)!;
  expect(gapLine._aws.CloudWatchMetrics[0].Metrics).toEqual(expect.arrayContaining([
    expect.objectContaining({ Name: 'CapacityGap', StorageResolution: 1 }),
    expect.objectContaining({ Name: 'CapacityNeeded', StorageResolution: 1 }),
  ]));
});

test('GitHub down: no counts are published (a zero would scale out), the error is counted per fleet', async () => {
  server.fail('GET', /\/actions\/runners$/, { kind: 'status', status: 502 }, 20);
  const fn = loadFunction('idle-metric', runtimeConfig(fleets, server.url), () => server.appCredentials(), FAST);
  describeGroups(fn.autoScaling, fn.as, fleets.map((f) => ({ name: f.autoScalingGroupName, desired: 0 })));

  const report = await fn.handler({}, lambdaContext('idle-metric'));

  expect(report.ok).toBe(false);
  expect(output.metrics().filter((l) => 'IdleRunners' in l)).toEqual([]);
  expect(fleets.map((f) => output.metric('GitHubErrors', f.name))).toEqual([1, 1, 1]);
  // Without a webhook the controller needs the idle count: no decision at all this tick.
  expect(fn.autoScaling.commandCalls(fn.as.DescribeAutoScalingGroupsCommand)).toEqual([]);
  expect(output.metrics().filter((l) => 'CapacityGap' in l)).toEqual([]);
  const errors = output.logs().filter((l) => l.level === 'ERROR');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ errorKind: 'server', status: 502, githubRequestId: expect.stringMatching(/^FAKE:/), function_request_id: expect.any(String) });
  // Each failed attempt is a warning with GitHub's request id.
  expect(output.logs().filter((l) => l.level === 'WARN' && /^Octokit: GET .* - 502 with id FAKE:/.test(l.message))).toHaveLength(3);
});
