import { Lazy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { failureOf, fleetWith } from './helpers';
import { GitHubRunnerFleetProps } from '../../src';
import { DEFAULT_RUNNER_VERSION } from '../../src/fleet/runner-release';
import { FleetSettings, resolveFleetSettings } from '../../src/fleet/settings';
import { PINNED_RUNNER_SHA256 } from '../../src/instances/runner-releases';
import { Mistakes } from '../../src/validation';

const PINNED = PINNED_RUNNER_SHA256[DEFAULT_RUNNER_VERSION];
const GRAVITON = new ec2.InstanceType('m7g.large');
/** A well-formed digest that is no pinned one (for a version the library pins nothing for). */
const OTHER_DIGEST = '0123456789abcdef'.repeat(4);
const UNPINNED_VERSION = '2.330.1';

/** The settings of a fleet with defaults except `overrides` (the settings need no construct); no mistake. */
function settingsWith(overrides: Partial<GitHubRunnerFleetProps> = {}): FleetSettings {
  const mistakes = new Mistakes();
  const settings = resolveFleetSettings({ vpc: {} as ec2.IVpc, labels: ['linux'], ...overrides }, mistakes);
  expect(mistakes.messages).toEqual([]);
  return settings;
}

/** The launch template's user data as one string (tokens rendered as JSON). */
function userDataOf(stack: Stack): string {
  const templates = Object.values(Template.fromStack(stack).findResources('AWS::EC2::LaunchTemplate')) as any[];
  expect(templates).toHaveLength(1);
  return JSON.stringify(templates[0].Properties.LaunchTemplateData.UserData);
}

describe('the runner release: digest', () => {
  test('the library pins both architectures of the default version, as 64 lower-case hex digits, and they differ', () => {
    expect(PINNED.x64).toMatch(/^[0-9a-f]{64}$/);
    expect(PINNED.arm64).toMatch(/^[0-9a-f]{64}$/);
    expect(PINNED.x64).not.toEqual(PINNED.arm64);
  });

  test('the default version gets the pinned x64 digest on an x64 type, the arm64 digest on a Graviton type', () => {
    expect(settingsWith().runnerSha256).toBe(PINNED.x64);
    expect(settingsWith({ instanceType: GRAVITON }).runnerSha256).toBe(PINNED.arm64);
    expect(settingsWith({ instanceTypes: [GRAVITON, new ec2.InstanceType('c7g.large')], warmPool: { enabled: false } }).runnerSha256).toBe(PINNED.arm64);
  });

  test('the digest reaches the instances\' configuration (RF_RUNNER_SHA256), for each architecture', () => {
    const x64 = userDataOf(fleetWith().stack);
    expect(x64).toContain(`RF_RUNNER_SHA256=${PINNED.x64}`);
    expect(x64).not.toContain(PINNED.arm64);
    const arm64 = userDataOf(fleetWith({ instanceType: GRAVITON, labels: ['linux', 'arm64'] }).stack);
    expect(arm64).toContain(`RF_RUNNER_SHA256=${PINNED.arm64}`);
    expect(arm64).not.toContain(PINNED.x64);
  });

  test('an unpinned version without runnerSha256 is refused, naming the version, the pinned versions, the file and the fix', () => {
    expect(failureOf({ runnerVersion: UNPINNED_VERSION })).toBe(
      `runnerVersion ("${UNPINNED_VERSION}") has no SHA-256 pinned by this library (it pins ${Object.keys(PINNED_RUNNER_SHA256).join(', ')}): `
      + `give runnerSha256, the SHA-256 of actions-runner-linux-x64-${UNPINNED_VERSION}.tar.gz from the release notes of `
      + `https://github.com/actions/runner/releases/tag/v${UNPINNED_VERSION}, or use a pinned runnerVersion`);
    expect(failureOf({ runnerVersion: UNPINNED_VERSION, instanceType: GRAVITON })).toContain(`actions-runner-linux-arm64-${UNPINNED_VERSION}.tar.gz`);
  });

  test('a version given as a token needs runnerSha256 (no pinned digest can apply)', () => {
    const runnerVersion = Lazy.string({ produce: () => DEFAULT_RUNNER_VERSION });
    expect(failureOf({ runnerVersion })).toMatch(/^runnerVersion is a deploy-time value, so no digest pinned by this library applies: give runnerSha256/);
    expect(settingsWith({ runnerVersion, runnerSha256: OTHER_DIGEST }).runnerSha256).toBe(OTHER_DIGEST);
  });

  test.each([
    ['too short', 'abc123'],
    ['63 digits', OTHER_DIGEST.slice(1)],
    ['65 digits', `${OTHER_DIGEST}0`],
    ['not hexadecimal', 'g'.repeat(64)],
    ['with a "sha256:" prefix', `sha256:${OTHER_DIGEST}`],
    ['with a trailing space', `${OTHER_DIGEST} `],
    ['empty', ''],
  ])('a malformed runnerSha256 (%s) is refused, naming the prop, the value and the file', (_name, runnerSha256) => {
    expect(failureOf({ runnerVersion: UNPINNED_VERSION, runnerSha256 })).toBe(
      `runnerSha256 (${JSON.stringify(runnerSha256)}) is not a SHA-256 digest: give the 64 hexadecimal digits published for `
      + `actions-runner-linux-x64-${UNPINNED_VERSION}.tar.gz (the release notes of https://github.com/actions/runner/releases/tag/v${UNPINNED_VERSION}), `
      + 'without a "sha256:" prefix or spaces');
  });

  test('a runnerSha256 contradicting the pinned digest is refused (the other architecture\'s digest, or any other)', () => {
    expect(failureOf({ runnerSha256: PINNED.arm64 })).toBe(
      `runnerSha256 (${PINNED.arm64}) differs from the digest this library pins for actions-runner-linux-x64-${DEFAULT_RUNNER_VERSION}.tar.gz (${PINNED.x64}): `
      + `remove runnerSha256 to use the pinned digest, or check that you copied the digest of actions-runner-linux-x64-${DEFAULT_RUNNER_VERSION}.tar.gz `
      + '(this fleet\'s architecture is x64)');
    expect(failureOf({ runnerSha256: PINNED.x64, instanceType: GRAVITON })).toContain('(this fleet\'s architecture is arm64)');
    expect(failureOf({ runnerSha256: OTHER_DIGEST })).toContain(`runnerSha256 (${OTHER_DIGEST}) differs from the digest this library pins`);
  });

  test('the pinned digest given explicitly is accepted, in either case', () => {
    expect(settingsWith({ runnerSha256: PINNED.x64 }).runnerSha256).toBe(PINNED.x64);
    expect(settingsWith({ runnerSha256: PINNED.arm64.toUpperCase(), instanceType: GRAVITON }).runnerSha256).toBe(PINNED.arm64);
  });

  test('a digest for an unpinned version is accepted, lower-cased, and reaches the user data', () => {
    expect(settingsWith({ runnerVersion: UNPINNED_VERSION, runnerSha256: OTHER_DIGEST.toUpperCase() }).runnerSha256).toBe(OTHER_DIGEST);
    const userData = userDataOf(fleetWith({ runnerVersion: UNPINNED_VERSION, runnerSha256: OTHER_DIGEST.toUpperCase() }).stack);
    expect(userData).toContain(`RF_RUNNER_SHA256=${OTHER_DIGEST}`);
    expect(userData).toContain(`actions-runner-linux-x64-${UNPINNED_VERSION}.tar.gz`);
  });

  test('a digest given as a token is passed on as is', () => {
    const runnerSha256 = Lazy.string({ produce: () => OTHER_DIGEST });
    expect(settingsWith({ runnerVersion: UNPINNED_VERSION, runnerSha256 }).runnerSha256).toBe(runnerSha256);
  });
});

describe('the runner release: mirror', () => {
  test('by default no mirror: the instances download from GitHub', () => {
    expect(settingsWith().runnerDownloadBaseUrl).toBeUndefined();
    expect(userDataOf(fleetWith().stack)).toContain(
      `RF_RUNNER_URL=https://github.com/actions/runner/releases/download/v${DEFAULT_RUNNER_VERSION}/actions-runner-linux-x64-${DEFAULT_RUNNER_VERSION}.tar.gz`);
  });

  test.each([
    'https://artifacts.example.com/github/actions-runner',
    'https://artifacts.example.com/github/actions-runner/',
    'https://10.0.0.5:8443/runner',
    'https://mirror.example.com',
  ])('%s is accepted', (runnerDownloadBaseUrl) => {
    expect(settingsWith({ runnerDownloadBaseUrl }).runnerDownloadBaseUrl).toBe(runnerDownloadBaseUrl);
  });

  test('the mirror reaches the user data, with the pinned digest checked all the same', () => {
    const userData = userDataOf(fleetWith({ runnerDownloadBaseUrl: 'https://artifacts.example.com/actions-runner', instanceType: GRAVITON, labels: ['linux'] }).stack);
    expect(userData).toContain(
      `RF_RUNNER_URL=https://artifacts.example.com/actions-runner/v${DEFAULT_RUNNER_VERSION}/actions-runner-linux-arm64-${DEFAULT_RUNNER_VERSION}.tar.gz`);
    expect(userData).not.toContain('https://github.com/actions/runner/releases/download');
    expect(userData).toContain(`RF_RUNNER_SHA256=${PINNED.arm64}`);
  });

  test.each([
    ['plain http', 'http://artifacts.example.com/runner'],
    ['no scheme', 'artifacts.example.com/runner'],
    ['no host', 'https://'],
    ['a space', 'https://artifacts.example.com/my runner'],
    ['a quote', 'https://artifacts.example.com/runner"; rm -rf /'],
    ['a single quote', "https://artifacts.example.com/runner'"],
    ['a query', 'https://artifacts.example.com/runner?token=abc'],
    ['a fragment', 'https://artifacts.example.com/runner#x'],
    ['a newline', 'https://artifacts.example.com/runner\nexit 0'],
  ])('a mirror URL with %s is refused, naming the prop and the value', (_name, runnerDownloadBaseUrl) => {
    expect(failureOf({ runnerDownloadBaseUrl })).toBe(
      `runnerDownloadBaseUrl (${JSON.stringify(runnerDownloadBaseUrl)}) must be an https URL without spaces, quotes, backslashes, "?" or "#", `
      + 'such as "https://github.com/actions/runner/releases/download": the instances download <base>/v<version>/actions-runner-linux-<arch>-<version>.tar.gz');
  });

  test('a mirror URL given as a token is not checked at synth time', () => {
    const runnerDownloadBaseUrl = Lazy.string({ produce: () => 'https://artifacts.example.com/runner' });
    expect(settingsWith({ runnerDownloadBaseUrl }).runnerDownloadBaseUrl).toBe(runnerDownloadBaseUrl);
  });
});
