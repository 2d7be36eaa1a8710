import { Duration, Size } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { fleetWith, synthMistakes, testStack } from './helpers';
import { GitHubRunnerControlPlane, GitHubRunnerFleet, GitHubRunnerFleetProps } from '../../src';
import { DEFAULT_RUNNER_VERSION } from '../../src/fleet/runner-release';
import { PINNED_RUNNER_SHA256 } from '../../src/instances/runner-releases';
import { fatalMistake, Mistakes } from '../../src/validation';

const PINNED = PINNED_RUNNER_SHA256[DEFAULT_RUNNER_VERSION];
const types = (...names: string[]) => names.map((n) => new ec2.InstanceType(n));

describe('Mistakes: the shared collector', () => {
  test('add, check and valueOr record in order; check and valueOr return the verdict and the fallback', () => {
    const mistakes = new Mistakes();
    mistakes.add('first');
    expect(mistakes.check(true, 'not recorded')).toBe(true);
    expect(mistakes.check(false, () => 'second')).toBe(false);
    expect(mistakes.valueOr(7, true, 'not recorded', 1)).toBe(7);
    expect(mistakes.valueOr(-3, false, 'third', 1)).toBe(1);
    expect(mistakes.messages).toEqual(['first', 'second', 'third']);
  });

  test('a message given as a function is built only for a mistake', () => {
    const message = jest.fn(() => 'built');
    new Mistakes().check(true, message);
    expect(message).not.toHaveBeenCalled();
  });

  test('attempt records what a throwing validator throws, and rethrows what is not an Error', () => {
    const mistakes = new Mistakes();
    expect(mistakes.attempt(() => undefined)).toBe(true);
    expect(mistakes.attempt(() => { throw new Error('labels is empty'); })).toBe(false);
    expect(mistakes.messages).toEqual(['labels is empty']);
    expect(() => mistakes.attempt(() => { throw 'not an error'; })).toThrow();
  });

  test('attached to a construct, its mistakes (also those recorded later) are the construct\'s validation errors', () => {
    const { stack } = testStack();
    const construct = new Construct(stack, 'Thing');
    const mistakes = new Mistakes();
    mistakes.attachTo(construct);
    expect(construct.node.validate()).toEqual([]);
    mistakes.add('late');
    expect(construct.node.validate()).toEqual(['late']);
    expect(synthMistakes(stack)).toEqual([{ path: 'TestStack/Thing', message: 'late' }]);
  });

  test('fatalMistake throws at once with the construct path in front', () => {
    const { stack } = testStack();
    expect(() => fatalMistake(new Construct(stack, 'Thing'), 'vpc is missing')).toThrow(/^\[TestStack\/Thing\] vpc is missing$/);
  });
});

describe('GitHubRunnerFleet: mistakes are reported at synth, all at once', () => {
  test('two fleets with different mistakes in one stack: both are reported, each under its own path', () => {
    const { stack, vpc, github } = testStack();
    new GitHubRunnerFleet(stack, 'Linux', { vpc, github, labels: ['linux'], fleetName: 'linux', maxCapacity: 0 });
    new GitHubRunnerFleet(stack, 'Arm', { vpc, github, labels: ['linux'], fleetName: 'arm', instanceType: new ec2.InstanceType('m7g.large'), runnerVersion: 'latest' });
    expect(synthMistakes(stack)).toEqual([
      { path: 'TestStack/Linux', message: 'maxCapacity (0) must be a whole number from 1 to 10000: use 1 or more' },
      { path: 'TestStack/Arm', message: `runnerVersion ("latest") is not a version: give a release number such as "${DEFAULT_RUNNER_VERSION}", without a leading "v"` },
    ]);
  });

  test('the report aws-cdk-lib throws names every mistake with its path, as `cdk synth` shows it', () => {
    const { app, stack, vpc, github } = testStack();
    new GitHubRunnerFleet(stack, 'Linux', { vpc, github, labels: ['linux'], fleetName: 'linux', maxCapacity: 0 });
    new GitHubRunnerFleet(stack, 'Other', { vpc, github, labels: ['other'], fleetName: 'has space' });
    expect(() => app.synth()).toThrow('Validation failed with the following errors:\n'
      + '  [TestStack/Linux] maxCapacity (0) must be a whole number from 1 to 10000: use 1 or more\n'
      + '  [TestStack/Other] fleetName ("has space") must be 1-32 letters, digits or hyphens, starting and ending with a letter or digit (e.g. "linux-x64")');
  });

  test('one fleet with three mistakes reports all three, in the order of the props', () => {
    const { fleet } = fleetWith({ labels: [], maxCapacity: 0, launchTimeout: Duration.seconds(20) });
    expect(synthMistakes(fleet)).toEqual([
      { path: 'TestStack/Fleet', message: 'labels is empty: give at least one label that your workflows\' runs-on will name (e.g. ["linux"])' },
      { path: 'TestStack/Fleet', message: 'maxCapacity (0) must be a whole number from 1 to 10000: use 1 or more' },
      { path: 'TestStack/Fleet', message: 'launchTimeout (20 seconds) is out of range: a lifecycle hook heartbeat lasts 30 s to 2 h; give at least a minute for preparation' },
    ]);
  });

  test('every label mistake is reported, not only the first', () => {
    const { fleet } = fleetWith({ labels: ['linux', 'has space', 'self-hosted', 'Linux'] });
    expect(synthMistakes(fleet).map((m) => m.message)).toEqual([
      expect.stringMatching(/^labels contains "has space": a label is 1-100 letters/),
      'labels contains "self-hosted": GitHub adds it to every self-hosted runner; remove it',
      'labels contains "Linux" more than once (labels are case-insensitive): remove the duplicates',
    ]);
  });

  test('Template.fromStack reports the mistakes too', () => {
    const { stack } = fleetWith({ idleRunners: 1.5 });
    expect(() => Template.fromStack(stack)).toThrow(/\[TestStack\/Fleet\] idleRunners \(1.5\) must be a whole number from 0 to 10000: use 0 or more/);
  });

  test('a valid fleet synthesizes with no validation error', () => {
    const { app, fleet } = fleetWith({ maxCapacity: 20, idleRunners: 2, warmPool: { minSize: 2 } });
    expect(synthMistakes(fleet)).toEqual([]);
    expect(() => app.synth({ force: true })).not.toThrow();
    expect(fleet.node.validate()).toEqual([]);
  });

  test('a fleet with mistakes does not throw in its constructor: the code after it runs, and its mistakes reach the report', () => {
    const { stack, vpc, github } = testStack();
    const fleet = new GitHubRunnerFleet(stack, 'Fleet', {
      vpc, github, labels: ['linux'], fleetName: 'has space', maxInstanceLifetime: Duration.hours(1), scaling: { period: Duration.seconds(45) },
    });
    // The user's later code: grants, connections, metrics, another fleet.
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    fleet.connections.allowToAnyIpv4(ec2.Port.tcp(443));
    expect(fleet.metricIdleRunners().metricName).toBe('IdleRunners');
    new GitHubRunnerFleet(stack, 'Second', { vpc, github, labels: ['second'], fleetName: 'second', drainTimeout: Duration.hours(49) });
    expect(synthMistakes(stack).map((m) => `${m.path}: ${m.message.split(' ')[0]}`)).toEqual([
      'TestStack/Fleet: maxInstanceLifetime',
      'TestStack/Fleet: scaling.period',
      'TestStack/Fleet: fleetName',
      'TestStack/Second: drainTimeout',
    ]);
  });

  test('meanwhile the fleet is built on sound fallbacks: a generated name, the defaults, capacities clamped', () => {
    const { fleet, stack } = fleetWith({ fleetName: 'has space', maxCapacity: 0, minCapacity: 12, scaling: { period: Duration.seconds(45) } });
    expect(fleet.fleetName).toMatch(/^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$/);
    expect(fleet.fleetName).not.toContain(' ');
    const group = fleet.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    expect(stack.resolve(group.maxSize)).toBe('10');
    expect(stack.resolve(group.minSize)).toBe('10');
    const alarm = fleet.scaleInAlarm.node.defaultChild as any;
    expect(stack.resolve(alarm.period)).toBe(60);
  });
});

describe('GitHubRunnerFleet: one mistake is reported once', () => {
  test.each([
    ['maxCapacity out of range: no comparison with the fallback', { maxCapacity: 0, minCapacity: 12, idleRunners: 11, warmPool: { minSize: 11 } }, ['maxCapacity (0)']],
    ['a spot base above a maxCapacity that is itself a mistake', { maxCapacity: -1, spot: { onDemandBaseCapacity: 15 }, warmPool: { enabled: false } }, ['maxCapacity (-1)']],
    ['a runnerVersion that is none: its digest is not checked against it', { runnerVersion: 'v2.329.0', runnerSha256: 'abc' }, ['runnerVersion ("v2.329.0")']],
    ['a malformed digest: not also "differs from the pinned one"', { runnerSha256: 'sha256:abc' }, ['runnerSha256 ("sha256:abc")']],
    ['instanceType and instanceTypes: not also "several types with a warm pool"', { instanceType: new ec2.InstanceType('m7i.large'), instanceTypes: types('m6i.large', 'm5.large') },
      ['instanceType and instanceTypes are both set']],
    ['a root volume out of range: not also "too small to hibernate"', {
      rootVolumeSize: Size.gibibytes(4), instanceType: new ec2.InstanceType('r7i.2xlarge'), warmPool: { poolState: autoscaling.PoolState.HIBERNATED },
    }, ['rootVolumeSize (GiB) (4)']],
    ['an idle target out of range: not also "scaling from zero"', { minCapacity: 0, idleRunners: -1 }, ['idleRunners (-1)']],
    ['two mistakes between props: both', { minCapacity: 5, maxCapacity: 2, idleRunners: 3 }, ['minCapacity (5) must not exceed maxCapacity (2)', 'idleRunners (3) must not exceed maxCapacity (2)']],
  ])('%s', (_name, overrides, starts) => {
    const mistakes = synthMistakes(fleetWith(overrides as Partial<GitHubRunnerFleetProps>).fleet);
    expect(mistakes.map((m) => m.path)).toEqual(starts.map(() => 'TestStack/Fleet'));
    expect(mistakes.map((m, i) => m.message.startsWith(starts[i]) ? starts[i] : m.message)).toEqual(starts);
  });
});

describe('GitHubRunnerFleet: what cannot go on throws at once, with the path', () => {
  test.each([
    ['props undefined', undefined, '[TestStack/Broken] props are missing: pass at least { vpc, github, labels }'],
    ['no vpc', { labels: ['linux'] }, '[TestStack/Broken] vpc is missing: pass the ec2.IVpc the runners run in'],
    ['no github and no controlPlane', { vpc: 'vpc', labels: ['linux'] }, '[TestStack/Broken] github is missing: pass GitHubConnection.organization(...)'],
  ])('%s', (_name, props, message) => {
    const { stack, vpc } = testStack();
    const given = props === undefined ? undefined : { ...props, vpc: (props as any).vpc ? vpc : undefined };
    expect(() => new GitHubRunnerFleet(stack, 'Broken', given as any)).toThrow(message);
  });
});

/**
 * Plausible mistakes in a fleet's props: each must leave the constructor alone and be reported at synth,
 * once, under the fleet's path, with a message that names the prop.
 */
const PLAUSIBLE_MISTAKES: Array<[string, string, Partial<GitHubRunnerFleetProps>]> = [
  ['no capacity at all', 'maxCapacity', { maxCapacity: 0 }],
  ['a negative minimum', 'minCapacity', { minCapacity: -1 }],
  ['a fractional idle target', 'idleRunners', { idleRunners: 1.5 }],
  ['min above max', 'minCapacity', { minCapacity: 5, maxCapacity: 2 }],
  ['idle target above max', 'idleRunners', { idleRunners: 12 }],
  ['a warm pool larger than the group', 'warmPool.minSize', { warmPool: { minSize: 12 } }],
  ['a prepared capacity larger than the group', 'warmPool.maxGroupPreparedCapacity', { warmPool: { maxGroupPreparedCapacity: 11 } }],
  ['a prepared capacity below the pool minimum', 'warmPool.maxGroupPreparedCapacity', { warmPool: { minSize: 4, maxGroupPreparedCapacity: 3 } }],
  ['scaling from zero without a webhook', 'idleRunners', { minCapacity: 0, idleRunners: 0 }],
  ['a scale-in period CloudWatch refuses', 'scaling.period', { scaling: { period: Duration.seconds(45) } }],
  ['a scale-out period CloudWatch refuses', 'scaling.demandPeriod', { scaling: { demandPeriod: Duration.seconds(15) } }],
  ['no evaluation period', 'scaling.scaleOutEvaluationPeriods', { scaling: { scaleOutEvaluationPeriods: 0 } }],
  ['an hour-long warm-up', 'scaling.estimatedInstanceWarmup', { scaling: { estimatedInstanceWarmup: Duration.hours(2) } }],
  ['no label', 'labels', { labels: [] }],
  ['a label with a space', 'labels', { labels: ['linux large'] }],
  ['the self-hosted label', 'labels', { labels: ['self-hosted', 'linux'] }],
  ['a label twice, in two cases', 'labels', { labels: ['linux', 'Linux'] }],
  ['a version with a leading v', 'runnerVersion', { runnerVersion: 'v2.329.0' }],
  ['an unpinned version without its digest', 'runnerVersion', { runnerVersion: '2.330.1' }],
  ['a digest with a sha256: prefix', 'runnerSha256', { runnerSha256: `sha256:${PINNED.x64}` }],
  ['the other architecture\'s digest', 'runnerSha256', { runnerSha256: PINNED.arm64 }],
  ['a mirror over plain http', 'runnerDownloadBaseUrl', { runnerDownloadBaseUrl: 'http://mirror.example.com/runner' }],
  ['an instance lifetime of hours', 'maxInstanceLifetime', { maxInstanceLifetime: Duration.hours(12) }],
  ['a fleet name with a space', 'fleetName', { fleetName: 'linux x64' }],
  ['a fleet name too long', 'fleetName', { fleetName: 'linux-x64-'.repeat(4) }],
  ['a root volume too small', 'rootVolumeSize', { rootVolumeSize: Size.gibibytes(4) }],
  ['a root volume in mebibytes', 'rootVolumeSize', { rootVolumeSize: Size.mebibytes(40_000) }],
  ['a launch timeout in seconds', 'launchTimeout', { launchTimeout: Duration.seconds(20) }],
  ['a drain timeout above 48 hours', 'drainTimeout', { drainTimeout: Duration.hours(49) }],
  ['an offline grace period below a minute', 'offlineGracePeriod', { offlineGracePeriod: Duration.seconds(30) }],
  ['runner group 0', 'runnerGroupId', { runnerGroupId: 0 }],
  ['a runner group name with a leading space', 'runnerGroupName', { runnerGroupName: ' Builders' }],
  ['hibernating Graviton', 'instanceType', { warmPool: { poolState: autoscaling.PoolState.HIBERNATED }, instanceType: new ec2.InstanceType('m7g.large') }],
  ['hibernating with a small root volume', 'rootVolumeSize', { warmPool: { poolState: autoscaling.PoolState.HIBERNATED }, instanceType: new ec2.InstanceType('r7i.2xlarge') }],
  ['hibernating too much memory', 'instanceType', { warmPool: { poolState: autoscaling.PoolState.HIBERNATED }, instanceType: new ec2.InstanceType('r7i.8xlarge'), rootVolumeSize: Size.gibibytes(500) }],
  ['instanceType and instanceTypes', 'instanceTypes', { instanceType: new ec2.InstanceType('m7i.large'), instanceTypes: types('m6i.large') }],
  ['an empty instanceTypes', 'instanceTypes', { instanceTypes: [], warmPool: { enabled: false } }],
  ['instance types of two architectures', 'instanceTypes', { instanceTypes: types('m7i.large', 'm7g.large'), warmPool: { enabled: false } }],
  ['an instance type twice', 'instanceTypes', { instanceTypes: types('m7i.large', 'm7i.large'), warmPool: { enabled: false } }],
  ['spot with the default warm pool', 'spot', { spot: {} }],
  ['a spot on-demand base above max', 'spot.onDemandBaseCapacity', { spot: { onDemandBaseCapacity: 11 }, warmPool: { enabled: false } }],
  ['a spot percentage above 100', 'spot.onDemandPercentageAboveBaseCapacity', { spot: { onDemandPercentageAboveBaseCapacity: 101 }, warmPool: { enabled: false } }],
  ['two packages in one string', 'extraPackages', { extraPackages: ['jq curl'] }],
];

describe('GitHubRunnerFleet: plausible mistakes', () => {
  test.each(PLAUSIBLE_MISTAKES)('%s: reported once at synth, naming %s', (_name, prop, overrides) => {
    let fleet: GitHubRunnerFleet | undefined;
    expect(() => { fleet = fleetWith(overrides).fleet; }).not.toThrow();
    const mistakes = synthMistakes(fleet!);
    expect(mistakes).toEqual([{ path: 'TestStack/Fleet', message: expect.stringContaining(prop) }]);
  });

  test('mistakes across props: runner groups with repository scope, and github contradicting controlPlane', () => {
    const { stack, vpc, github, secret } = testStack();
    const { GitHubConnection: Conn, GitHubCredentials: Creds } = jest.requireActual('../../src');
    const repo = Conn.repository('acme', 'infra', { credentials: Creds.fromPersonalAccessTokenSecret(secret) });
    new GitHubRunnerFleet(stack, 'Repo', { vpc, github: repo, labels: ['repo'], fleetName: 'repo', runnerGroupName: 'Builders' });
    const controlPlane = new GitHubRunnerControlPlane(stack, 'Runners', { github });
    new GitHubRunnerFleet(stack, 'Mixed', { vpc, github: repo, controlPlane, labels: ['mixed'], fleetName: 'mixed' });
    expect(synthMistakes(stack)).toEqual([
      { path: 'TestStack/Repo', message: expect.stringMatching(/^runnerGroupId\/runnerGroupName apply to organization and enterprise scope only/) },
      { path: 'TestStack/Mixed', message: expect.stringMatching(/^github and controlPlane \(TestStack\/Runners\) name different GitHub connections/) },
    ]);
  });
});
