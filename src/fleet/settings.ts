import { Duration, Size, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { resolveInstanceTypes, resolveSpot, ResolvedSpot } from './instance-settings';
import { GitHubRunnerFleetProps, RunnerMode } from './props';
import { resolveRunnerRelease, runnerArchitecture, RunnerArchitecture } from './runner-release';
import { durationInRange, wholeInRange } from './validate';
import { validateLabels } from '../github/names';
import { HIBERNATION_ROOT_HEADROOM_GIB, hibernationFacts, MAX_HIBERNATION_MEMORY_GIB } from '../instances/hibernation';
import { RunnerOperatingSystem } from '../instances/operating-system';


/** A warning for legal but risky settings: id (for acknowledgement) and message. */
export interface FleetWarning {
  readonly id: string;
  readonly message: string;
}

/** Every setting of a fleet, defaults applied and validated. */
export interface FleetSettings {
  readonly labels: string[];
  /** The first of `instanceTypes`: the launch template's, and the image's architecture. */
  readonly instanceType: ec2.InstanceType;
  /** Every type the group may launch (more than one: a mixed instances policy). */
  readonly instanceTypes: ec2.InstanceType[];
  /** The runners' architecture, as the runner release names it (from `instanceType`, once). */
  readonly architecture: RunnerArchitecture;
  /** Spot settings, resolved; undefined for on-demand only. */
  readonly spot?: ResolvedSpot;
  readonly operatingSystem: RunnerOperatingSystem;
  readonly rootVolumeGiB: number;
  readonly runnerVersion: string;
  /**
   * The SHA-256 of the runner release tarball for the fleet's architecture, lower-case hexadecimal (or a
   * token): `runnerSha256`, or the digest pinned for `runnerVersion`.
   */
  readonly runnerSha256: string;
  /** Where the instances download the runner release from; undefined for GitHub's releases. */
  readonly runnerDownloadBaseUrl?: string;
  readonly mode: RunnerMode;
  readonly runnerGroupId?: number;
  readonly runnerGroupName?: string;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly idleRunners: number;
  readonly maxInstanceLifetime: Duration;
  readonly warmPool?: {
    readonly poolState: autoscaling.PoolState;
    readonly minSize: number;
    readonly maxGroupPreparedCapacity?: number;
    readonly reuseOnScaleIn: boolean;
  };
  readonly period: Duration;
  /** The scale-out alarm's period. */
  readonly demandPeriod: Duration;
  readonly scaleOutEvaluationPeriods: number;
  readonly scaleInEvaluationPeriods: number;
  readonly estimatedInstanceWarmup: Duration;
  readonly directScaleOut: boolean;
  readonly installDocker: boolean;
  readonly extraPackages: string[];
  readonly extraCommands: string[];
  readonly blockJobMetadataAccess: boolean;
  readonly launchTimeout: Duration;
  readonly drainTimeout: Duration;
  readonly offlineGracePeriod: Duration;
  readonly warnings: FleetWarning[];
}

/** What the fleet's settings depend on beyond its props. */
export interface FleetContext {
  /** Whether the control plane has a webhook (a demand signal from queued jobs). */
  readonly demandSignal: boolean;
}

/** Applies defaults and validates; throws an Error naming the prop, the value and the fix. */
export function resolveFleetSettings(props: GitHubRunnerFleetProps, context: FleetContext = { demandSignal: false }): FleetSettings {
  const warnings: FleetWarning[] = [];
  const labels = [...(props.labels ?? [])];
  if (!labels.some((l) => Token.isUnresolved(l))) {
    validateLabels('labels', labels);
  }

  const instanceTypes = resolveInstanceTypes(props);
  const instanceType = instanceTypes[0];
  const operatingSystem = props.operatingSystem ?? RunnerOperatingSystem.AMAZON_LINUX_2023;
  const rootVolumeGiB = (props.rootVolumeSize ?? Size.gibibytes(30)).toGibibytes();
  wholeInRange('rootVolumeSize (GiB)', rootVolumeGiB, 8, 16384, 'give a size between 8 GiB and 16 TiB');

  const architecture = runnerArchitecture(instanceType);
  const { runnerVersion, runnerSha256, runnerDownloadBaseUrl } = resolveRunnerRelease(props, architecture);

  const mode = props.runnerMode ?? RunnerMode.EPHEMERAL;
  // With only a name, the functions look the group's id up at run time.
  const runnerGroupId = props.runnerGroupId ?? (props.runnerGroupName !== undefined ? undefined : 1);
  if (runnerGroupId !== undefined) {
    wholeInRange('runnerGroupId', runnerGroupId, 1, Number.MAX_SAFE_INTEGER, 'use 1 for the default group, or the id GitHub shows for your group');
  }
  if (props.runnerGroupName !== undefined && !Token.isUnresolved(props.runnerGroupName) && !/^\S(.{0,98}\S)?$/.test(props.runnerGroupName)) {
    throw new Error(`runnerGroupName (${JSON.stringify(props.runnerGroupName)}) is not a runner group name: give the name GitHub shows, 1-100 characters, without leading or trailing spaces`);
  }
  if ((props.github ?? props.controlPlane?.github)?.repositoryName && (props.runnerGroupId !== undefined || props.runnerGroupName !== undefined)) {
    throw new Error('runnerGroupId/runnerGroupName apply to organization and enterprise scope only: repository runners have no runner group; remove them or use GitHubConnection.organization');
  }

  const minCapacity = props.minCapacity ?? 0;
  const maxCapacity = props.maxCapacity ?? 10;
  const idleRunners = props.idleRunners ?? 1;
  wholeInRange('minCapacity', minCapacity, 0, 10_000, 'use 0 or more');
  wholeInRange('maxCapacity', maxCapacity, 1, 10_000, 'use 1 or more');
  wholeInRange('idleRunners', idleRunners, 0, 10_000, 'use 0 or more');
  if (minCapacity > maxCapacity) {
    throw new Error(`minCapacity (${minCapacity}) must not exceed maxCapacity (${maxCapacity}): lower minCapacity or raise maxCapacity`);
  }
  if (idleRunners > maxCapacity) {
    throw new Error(`idleRunners (${idleRunners}) must not exceed maxCapacity (${maxCapacity}): lower idleRunners or raise maxCapacity`);
  }
  if (minCapacity === 0 && idleRunners === 0 && !context.demandSignal) {
    throw new Error('minCapacity and idleRunners are both 0, but scaling from zero needs the demand signal of queued jobs: '
      + 'give the control plane a webhook (new GitHubRunnerControlPlane(this, id, { github, webhook: {} }), passed as controlPlane), '
      + 'or set idleRunners (or minCapacity) to 1 or more');
  }
  // A label naming another OS or architecture than the runners have: jobs asking for it would be routed
  // here (GitHub matches labels, not machines) and run on the wrong kind of machine.
  const otherPlatform = architecture === 'arm64' ? ['x64', 'x86_64', 'amd64'] : ['arm64', 'aarch64'];
  const misleading = labels.filter((l) => !Token.isUnresolved(l) && [...otherPlatform, 'windows', 'macos', 'osx'].includes(l.toLowerCase()));
  if (misleading.length > 0) {
    warnings.push({
      id: 'MisleadingLabel',
      message: `labels contains ${misleading.map((l) => JSON.stringify(l)).join(', ')}, but the runners are Linux on `
        + `${architecture === 'arm64' ? 'arm64' : 'x86_64'} (${instanceType}): jobs asking for `
        + `${misleading.length > 1 ? 'them' : 'it'} would be routed here and run on the wrong kind of machine. Remove the label, or make a fleet of that kind.`,
    });
  }

  const maxInstanceLifetime = props.maxInstanceLifetime ?? Duration.days(7);
  const lifetimeSeconds = maxInstanceLifetime.toSeconds();
  if (lifetimeSeconds < 86_400 || lifetimeSeconds > 31_536_000) {
    throw new Error(`maxInstanceLifetime (${maxInstanceLifetime.toHumanString()}) must be between 1 day and 365 days (an EC2 Auto Scaling limit): use for example Duration.days(7)`);
  }

  const warmPool = resolveWarmPool(props, instanceType, rootVolumeGiB, maxCapacity, warnings);
  const spot = resolveSpot(props, maxCapacity);
  if (warmPool && (spot || instanceTypes.length > 1)) {
    throw new Error(`${spot ? 'spot' : 'instanceTypes (several types)'} cannot be combined with a warm pool: EC2 Auto Scaling keeps no instance of a `
      + 'mixed instances policy (spot, or several instance types) in a warm pool. Set warmPool: { enabled: false } '
      + '(with the control plane\'s webhook, queued jobs still bring their instances in one step), or use one on-demand instanceType');
  }

  const scaling = props.scaling ?? {};
  const period = scaling.period ?? Duration.minutes(1);
  const periodSeconds = period.toSeconds();
  if (![10, 20, 30].includes(periodSeconds) && (periodSeconds < 60 || periodSeconds % 60 !== 0)) {
    throw new Error(`scaling.period (${period.toHumanString()}) must be 10, 20 or 30 seconds or a multiple of 60 seconds (a CloudWatch alarm rule)`);
  }
  const demandPeriod = scaling.demandPeriod ?? Duration.seconds(10);
  const demandSeconds = demandPeriod.toSeconds();
  if (![10, 20, 30].includes(demandSeconds) && (demandSeconds < 60 || demandSeconds % 60 !== 0)) {
    throw new Error(`scaling.demandPeriod (${demandPeriod.toHumanString()}) must be 10, 20 or 30 seconds or a multiple of 60 seconds (a CloudWatch alarm rule)`);
  }
  const scaleOutEvaluationPeriods = scaling.scaleOutEvaluationPeriods ?? 1;
  const scaleInEvaluationPeriods = scaling.scaleInEvaluationPeriods ?? 2;
  wholeInRange('scaling.scaleOutEvaluationPeriods', scaleOutEvaluationPeriods, 1, 100, 'use 1 or more');
  wholeInRange('scaling.scaleInEvaluationPeriods', scaleInEvaluationPeriods, 1, 100, 'use 1 or more');
  const estimatedInstanceWarmup = scaling.estimatedInstanceWarmup ?? Duration.seconds(0);
  durationInRange('scaling.estimatedInstanceWarmup', estimatedInstanceWarmup, 0, 3600, 'use Duration.seconds(0): the capacity gap counts instances on their way already');
  if (estimatedInstanceWarmup.toSeconds() > 0) {
    warnings.push({
      id: 'InstanceWarmup',
      message: `scaling.estimatedInstanceWarmup (${estimatedInstanceWarmup.toHumanString()}) is above 0, but the capacity gap counts instances on their way already: `
        + 'while instances warm up, repeated alarms add less than the gap and scale-in is blocked. Remove it unless you know why you need it.',
    });
  }
  const directScaleOut = scaling.directScaleOut ?? true;
  if (!directScaleOut && maxCapacity > 20) {
    warnings.push({
      id: 'LargeGapSteps',
      message: `maxCapacity (${maxCapacity}) is above 20 with scaling.directScaleOut false: a step scaling policy has at most 20 steps, `
        + 'so a gap above 20 is closed over several alarm evaluations. Keep directScaleOut on for bursts of more than 20 jobs.',
    });
  }

  const launchTimeout = props.launchTimeout ?? Duration.minutes(15);
  durationInRange('launchTimeout', launchTimeout, 60, 7200, 'a lifecycle hook heartbeat lasts 30 s to 2 h; give at least a minute for preparation');
  const drainTimeout = props.drainTimeout ?? Duration.hours(2);
  durationInRange('drainTimeout', drainTimeout, 0, 48 * 3600, 'a terminating instance can be held for at most 48 hours');
  const offlineGracePeriod = props.offlineGracePeriod ?? Duration.minutes(15);
  durationInRange('offlineGracePeriod', offlineGracePeriod, 60, 14 * 86_400, 'use between 1 minute and 14 days');

  return {
    labels,
    instanceType,
    instanceTypes,
    architecture,
    spot,
    operatingSystem,
    rootVolumeGiB,
    runnerVersion,
    runnerSha256,
    runnerDownloadBaseUrl,
    mode,
    runnerGroupId,
    runnerGroupName: props.runnerGroupName,
    minCapacity,
    maxCapacity,
    idleRunners,
    maxInstanceLifetime,
    warmPool,
    period,
    demandPeriod,
    scaleOutEvaluationPeriods,
    scaleInEvaluationPeriods,
    estimatedInstanceWarmup,
    directScaleOut,
    installDocker: props.installDocker ?? true,
    extraPackages: [...(props.extraPackages ?? [])],
    extraCommands: [...(props.extraCommands ?? [])],
    blockJobMetadataAccess: props.blockJobMetadataAccess ?? true,
    launchTimeout,
    drainTimeout,
    offlineGracePeriod,
    warnings,
  };
}

function resolveWarmPool(
  props: GitHubRunnerFleetProps,
  instanceType: ec2.InstanceType,
  rootVolumeGiB: number,
  maxCapacity: number,
  warnings: FleetWarning[],
): FleetSettings['warmPool'] {
  const options = props.warmPool ?? {};
  if (options.enabled === false) {
    return undefined;
  }
  const poolState = options.poolState ?? autoscaling.PoolState.STOPPED;
  const minSize = options.minSize ?? 0;
  wholeInRange('warmPool.minSize', minSize, 0, 10_000, 'use 0 or more');
  if (minSize > maxCapacity) {
    throw new Error(`warmPool.minSize (${minSize}) must not exceed maxCapacity (${maxCapacity}): lower warmPool.minSize or raise maxCapacity`);
  }
  const prepared = options.maxGroupPreparedCapacity;
  if (prepared !== undefined) {
    wholeInRange('warmPool.maxGroupPreparedCapacity', prepared, 1, 10_000, 'use 1 or more');
    if (prepared > maxCapacity) {
      throw new Error(`warmPool.maxGroupPreparedCapacity (${prepared}) must not exceed maxCapacity (${maxCapacity}): lower it or raise maxCapacity`);
    }
    if (prepared < minSize) {
      throw new Error(`warmPool.maxGroupPreparedCapacity (${prepared}) must not be below warmPool.minSize (${minSize})`);
    }
  }
  if (poolState === autoscaling.PoolState.HIBERNATED) {
    const typeName = instanceType.toString();
    const facts = hibernationFacts(typeName);
    if (facts.supported === false) {
      throw new Error(`warmPool.poolState is HIBERNATED but instanceType (${typeName}) cannot hibernate: use an x86_64 family such as m7i, c7i, r7i or t3, or PoolState.STOPPED`);
    }
    if (facts.supported === undefined) {
      warnings.push({ id: 'HibernationUnverified', message: `warmPool.poolState is HIBERNATED and instanceType (${typeName}) is not in this library's table: check that it can hibernate.` });
    }
    if (facts.memoryGiB !== undefined) {
      if (facts.memoryGiB > MAX_HIBERNATION_MEMORY_GIB) {
        throw new Error(`warmPool.poolState is HIBERNATED but instanceType (${typeName}) has ${facts.memoryGiB} GiB of memory; AWS hibernates at most ${MAX_HIBERNATION_MEMORY_GIB} GiB: use a smaller size or PoolState.STOPPED`);
      }
      const needed = Math.ceil(facts.memoryGiB + HIBERNATION_ROOT_HEADROOM_GIB);
      if (rootVolumeGiB < needed) {
        throw new Error(`rootVolumeSize (${rootVolumeGiB} GiB) is too small to hibernate ${typeName} (${facts.memoryGiB} GiB of memory): use at least Size.gibibytes(${needed})`);
      }
    }
  }
  if (poolState === autoscaling.PoolState.RUNNING) {
    warnings.push({ id: 'RunningWarmPool', message: 'warmPool.poolState is RUNNING: warm instances cost as much as instances in service. STOPPED costs only their volumes.' });
  }
  return { poolState, minSize, maxGroupPreparedCapacity: prepared, reuseOnScaleIn: options.reuseOnScaleIn ?? true };
}
