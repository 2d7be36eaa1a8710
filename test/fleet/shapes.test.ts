import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { RunnerMode, RunnerOperatingSystem } from '../../src';
import { GitHubRunnerFleetProps } from '../../src/fleet/props';
import { FleetSettings, resolveFleetSettings } from '../../src/fleet/settings';
import { bootstrapOptions, bootstrapOs, fleetRuntimeEntry, runnerModeValue } from '../../src/fleet/shapes';
import { Mistakes } from '../../src/validation';

/** The settings of sound props: no mistake recorded. */
function settingsOf(props: GitHubRunnerFleetProps): FleetSettings {
  const mistakes = new Mistakes();
  const settings = resolveFleetSettings(props, mistakes);
  expect(mistakes.messages).toEqual([]);
  return settings;
}

const identity = {
  fleetName: 'linux',
  fleetLabel: 'fleet-linux',
  labels: ['linux', 'fleet-linux'],
  secretPrefix: 'github-runner-fleet/linux/',
  autoScalingGroupName: 'github-runner-fleet-linux',
  instanceRoleName: 'Role',
  launchHookName: 'github-runner-fleet-launch-0a1b2c3d',
  terminateHookName: 'github-runner-fleet-terminate-0a1b2c3d',
};

describe('one mapper per shape: settings to runtime entry and bootstrap options', () => {
  test.each([
    ['m7i.large', 'x64'],
    ['c7i.xlarge', 'x64'],
    ['m7g.large', 'arm64'],
    ['t4g.small', 'arm64'],
  ])('%s: the runtime entry and the bootstrap name the same architecture, %s', (instanceType, architecture) => {
    const settings = settingsOf({ vpc: undefined as any, labels: ['linux'], instanceType: new ec2.InstanceType(instanceType) });
    expect(settings.architecture).toBe(architecture);
    expect(fleetRuntimeEntry(settings, identity).architecture).toBe(architecture);
    expect(bootstrapOptions(settings, { secretPrefix: 'p/', agentUrl: 'https://agent' }).architecture).toBe(architecture);
  });

  test.each([
    [RunnerMode.EPHEMERAL, 'ephemeral'],
    [RunnerMode.PERSISTENT, 'persistent'],
  ])('runner mode %s travels as %s, in the runtime entry and the bootstrap alike', (mode, value) => {
    expect(runnerModeValue(mode)).toBe(value);
    const settings = settingsOf({ vpc: undefined as any, labels: ['linux'], runnerMode: mode });
    expect(fleetRuntimeEntry(settings, identity).mode).toBe(value);
    expect(bootstrapOptions(settings, { secretPrefix: 'p/', agentUrl: 'https://agent' }).mode).toBe(value);
  });

  test.each([
    [RunnerOperatingSystem.AMAZON_LINUX_2023, 'amazon-linux-2023'],
    [RunnerOperatingSystem.UBUNTU_24_04, 'ubuntu'],
  ])('%o: the bootstrap picks %s', (os, name) => {
    expect(bootstrapOs(os)).toBe(name);
  });

  test('the runtime entry carries every setting the functions use, from the settings', () => {
    const settings = settingsOf({
      vpc: undefined as any,
      labels: ['linux'],
      runnerGroupName: 'Builders',
      idleRunners: 2,
      offlineGracePeriod: Duration.minutes(20),
      drainTimeout: Duration.hours(1),
      scaling: { directScaleOut: false },
    });
    expect(fleetRuntimeEntry(settings, identity)).toEqual({
      name: 'linux',
      autoScalingGroupName: 'github-runner-fleet-linux',
      instanceRoleName: 'Role',
      fleetLabel: 'fleet-linux',
      labels: ['linux', 'fleet-linux'],
      mode: 'ephemeral',
      runnerGroupId: undefined,
      runnerGroupName: 'Builders',
      secretPrefix: 'github-runner-fleet/linux/',
      offlineGraceSeconds: 1200,
      drainTimeoutSeconds: 3600,
      idleTarget: 2,
      os: 'linux',
      architecture: 'x64',
      directScaleOut: false,
      launchHookName: identity.launchHookName,
      terminateHookName: identity.terminateHookName,
    });
  });

  test('the bootstrap options carry the release, the instance programs\' settings and the agent URL', () => {
    const settings = settingsOf({ vpc: undefined as any, labels: ['linux'], installDocker: false, extraPackages: ['jq'], launchTimeout: Duration.minutes(10) });
    expect(bootstrapOptions(settings, { secretPrefix: 'github-runner-fleet/linux/', agentUrl: 'https://agent' })).toEqual({
      os: 'amazon-linux-2023',
      architecture: 'x64',
      runnerVersion: settings.runnerVersion,
      runnerSha256: settings.runnerSha256,
      runnerDownloadBaseUrl: undefined,
      mode: 'ephemeral',
      secretPrefix: 'github-runner-fleet/linux/',
      installDocker: false,
      extraPackages: ['jq'],
      extraCommands: [],
      blockJobMetadataAccess: true,
      inServiceTimeoutSeconds: 600,
      agentUrl: 'https://agent',
    });
  });
});
