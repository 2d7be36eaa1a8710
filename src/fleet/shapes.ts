import { RunnerMode } from './props';
import { FleetSettings } from './settings';
import { FleetRuntimeEntry, RunnerModeValue } from '../contract';
import { RunnerOperatingSystem } from '../instances/operating-system';
import { BootstrapOptions } from '../instances/user-data';

/**
 * One mapper per shape: a fleet's configuration exists as props, resolved settings
 * (`resolveFleetSettings`), the control plane's runtime entry and the instance's bootstrap options.
 * Each conversion between them is written here once.
 */

/** What identifies a fleet beyond its settings (its names, and its resources' deploy-time names). */
export interface FleetIdentity {
  readonly fleetName: string;
  readonly fleetLabel: string;
  /** Every label, the fleet label among them. */
  readonly labels: string[];
  readonly secretPrefix: string;
  readonly autoScalingGroupName: string;
  readonly instanceRoleName: string;
  readonly launchHookName: string;
  readonly terminateHookName: string;
}

/** The runner mode as it travels (runtime configuration, instance secret, bootstrap). */
export function runnerModeValue(mode: RunnerMode): RunnerModeValue {
  return mode === RunnerMode.PERSISTENT ? 'persistent' : 'ephemeral';
}

/** The bootstrap script's name for an operating system (it picks the package manager by it). */
export function bootstrapOs(os: RunnerOperatingSystem): BootstrapOptions['os'] {
  return os.name === RunnerOperatingSystem.UBUNTU_24_04.name ? 'ubuntu' : 'amazon-linux-2023';
}

/** The fleet as the control plane's functions see it. */
export function fleetRuntimeEntry(settings: FleetSettings, fleet: FleetIdentity): FleetRuntimeEntry {
  return {
    name: fleet.fleetName,
    autoScalingGroupName: fleet.autoScalingGroupName,
    instanceRoleName: fleet.instanceRoleName,
    fleetLabel: fleet.fleetLabel,
    labels: fleet.labels,
    mode: runnerModeValue(settings.mode),
    runnerGroupId: settings.runnerGroupId,
    runnerGroupName: settings.runnerGroupName,
    secretPrefix: fleet.secretPrefix,
    offlineGraceSeconds: settings.offlineGracePeriod.toSeconds(),
    drainTimeoutSeconds: settings.drainTimeout.toSeconds(),
    idleTarget: settings.idleRunners,
    // Every operating system this library offers is Linux (the runners' OS label).
    os: 'linux',
    architecture: settings.architecture,
    directScaleOut: settings.directScaleOut,
    launchHookName: fleet.launchHookName,
    terminateHookName: fleet.terminateHookName,
  };
}

/** What the instance's bootstrap needs, from the fleet's settings. */
export function bootstrapOptions(settings: FleetSettings, fleet: { readonly secretPrefix: string; readonly agentUrl: string }): BootstrapOptions {
  return {
    os: bootstrapOs(settings.operatingSystem),
    architecture: settings.architecture,
    runnerVersion: settings.runnerVersion,
    runnerSha256: settings.runnerSha256,
    runnerDownloadBaseUrl: settings.runnerDownloadBaseUrl,
    mode: runnerModeValue(settings.mode),
    secretPrefix: fleet.secretPrefix,
    installDocker: settings.installDocker,
    extraPackages: settings.extraPackages,
    extraCommands: settings.extraCommands,
    blockJobMetadataAccess: settings.blockJobMetadataAccess,
    inServiceTimeoutSeconds: settings.launchTimeout.toSeconds(),
    agentUrl: fleet.agentUrl,
  };
}
