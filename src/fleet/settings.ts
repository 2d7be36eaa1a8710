import { Duration, Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { resolveInstanceTypes, resolveSpot, ResolvedSpot } from './instance-settings';
import { GitHubRunnerFleetProps, RunnerMode } from './props';
import { resolveRunnerRelease, runnerArchitecture, RunnerArchitecture } from './runner-release';
import { durationInRange, wholeInRange } from './validate';
import { labelProblems } from '../github/names';
import { HIBERNATION_ROOT_HEADROOM_GIB, hibernationFacts, MAX_HIBERNATION_MEMORY_GIB } from '../instances/hibernation';
import { RunnerOperatingSystem } from '../instances/operating-system';
import { Mistakes } from '../validation';


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

/**
 * Applies defaults and validates. A mistake is recorded in `mistakes` (naming the prop, the value and
 * the fix) and the setting falls back to a sound value (its default, or the value clamped), so that every
 * mistake is found in one pass and construction can go on. Each prop is checked on its own first; the
 * checks between props then see the fallbacks, so that one mistake is reported once.
 */
export function resolveFleetSettings(
  props: GitHubRunnerFleetProps,
  mistakes: Mistakes,
  context: FleetContext = { demandSignal: false },
): FleetSettings {
  const warnings: FleetWarning[] = [];
  const labels = [...(props.labels ?? [])];
  if (!labels.some((l) => Token.isUnresolved(l))) {
    labelProblems('labels', labels).forEach((problem) => mistakes.add(problem));
  }

  const instanceTypes = resolveInstanceTypes(props, mistakes);
  const instanceType = instanceTypes[0];
  const operatingSystem = props.operatingSystem ?? RunnerOperatingSystem.AMAZON_LINUX_2023;
  // Not rounded: a size that is no whole number of GiB is a mistake to report, not an exception.
  const givenRootGiB = (props.rootVolumeSize ?? Size.gibibytes(30)).toGibibytes({ rounding: SizeRoundingBehavior.NONE });
  const rootVolumeGiB = wholeInRange(mistakes, 'rootVolumeSize (GiB)', givenRootGiB, 8, 16384, 'give a size between 8 GiB and 16 TiB', 30);

  const architecture = runnerArchitecture(instanceType);
  const { runnerVersion, runnerSha256, runnerDownloadBaseUrl } = resolveRunnerRelease(props, architecture, mistakes);

  const mode = props.runnerMode ?? RunnerMode.EPHEMERAL;
  // With only a name, the functions look the group's id up at run time.
  let runnerGroupId = props.runnerGroupId ?? (props.runnerGroupName !== undefined ? undefined : 1);
  if (runnerGroupId !== undefined) {
    runnerGroupId = wholeInRange(mistakes, 'runnerGroupId', runnerGroupId, 1, Number.MAX_SAFE_INTEGER, 'use 1 for the default group, or the id GitHub shows for your group', 1);
  }
  let runnerGroupName = props.runnerGroupName;
  if (runnerGroupName !== undefined && !Token.isUnresolved(runnerGroupName) && !/^\S(.{0,98}\S)?$/.test(runnerGroupName)) {
    mistakes.add(`runnerGroupName (${JSON.stringify(runnerGroupName)}) is not a runner group name: give the name GitHub shows, 1-100 characters, without leading or trailing spaces`);
    runnerGroupName = undefined;
    runnerGroupId = runnerGroupId ?? 1;
  }
  if ((props.github ?? props.controlPlane?.github)?.repositoryName && (props.runnerGroupId !== undefined || props.runnerGroupName !== undefined)) {
    mistakes.add('runnerGroupId/runnerGroupName apply to organization and enterprise scope only: repository runners have no runner group; remove them or use GitHubConnection.organization');
  }

  // Each on its own first (a value out of range falls back to its default), then against each other on
  // the results: a comparison with a fallback the user never gave is not reported, only clamped.
  const maxCapacity = wholeInRange(mistakes, 'maxCapacity', props.maxCapacity ?? 10, 1, 10_000, 'use 1 or more', 10);
  const maxSound = props.maxCapacity === undefined || maxCapacity === props.maxCapacity;
  let minCapacity = wholeInRange(mistakes, 'minCapacity', props.minCapacity ?? 0, 0, 10_000, 'use 0 or more', 0);
  let idleRunners = wholeInRange(mistakes, 'idleRunners', props.idleRunners ?? 1, 0, 10_000, 'use 0 or more', 1);
  if (minCapacity > maxCapacity) {
    if (maxSound) {
      mistakes.add(`minCapacity (${minCapacity}) must not exceed maxCapacity (${maxCapacity}): lower minCapacity or raise maxCapacity`);
    }
    minCapacity = maxCapacity;
  }
  if (idleRunners > maxCapacity) {
    if (maxSound) {
      mistakes.add(`idleRunners (${idleRunners}) must not exceed maxCapacity (${maxCapacity}): lower idleRunners or raise maxCapacity`);
    }
    idleRunners = maxCapacity;
  }
  if (minCapacity === 0 && idleRunners === 0 && !context.demandSignal) {
    mistakes.add('minCapacity and idleRunners are both 0, but scaling from zero needs the demand signal of queued jobs: '
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

  let maxInstanceLifetime = props.maxInstanceLifetime ?? Duration.days(7);
  if (!maxInstanceLifetime.isUnresolved()) {
    const lifetimeSeconds = maxInstanceLifetime.toSeconds({ integral: false });
    maxInstanceLifetime = mistakes.valueOr(maxInstanceLifetime, lifetimeSeconds >= 86_400 && lifetimeSeconds <= 31_536_000,
      () => `maxInstanceLifetime (${maxInstanceLifetime.toHumanString()}) must be between 1 day and 365 days (an EC2 Auto Scaling limit): use for example Duration.days(7)`,
      Duration.days(7));
  }

  const spot = resolveSpot(props, maxSound ? maxCapacity : 10_000, mistakes);
  const rootVolumeSound = rootVolumeGiB === givenRootGiB;
  const sizes = { instanceType, maxCapacity, maxSound, rootVolumeGiB: rootVolumeSound ? rootVolumeGiB : undefined };
  let warmPool = resolveWarmPool(props, sizes, warnings, mistakes);
  if (warmPool && (spot || instanceTypes.length > 1)) {
    mistakes.add(`${spot ? 'spot' : 'instanceTypes (several types)'} cannot be combined with a warm pool: EC2 Auto Scaling keeps no instance of a `
      + 'mixed instances policy (spot, or several instance types) in a warm pool. Set warmPool: { enabled: false } '
      + '(with the control plane\'s webhook, queued jobs still bring their instances in one step), or use one on-demand instanceType');
    warmPool = undefined;
  }

  const scaling = props.scaling ?? {};
  const period = alarmPeriod(mistakes, 'scaling.period', scaling.period, Duration.minutes(1));
  const demandPeriod = alarmPeriod(mistakes, 'scaling.demandPeriod', scaling.demandPeriod, Duration.seconds(10));
  const scaleOutEvaluationPeriods = wholeInRange(mistakes, 'scaling.scaleOutEvaluationPeriods', scaling.scaleOutEvaluationPeriods ?? 1, 1, 100, 'use 1 or more', 1);
  const scaleInEvaluationPeriods = wholeInRange(mistakes, 'scaling.scaleInEvaluationPeriods', scaling.scaleInEvaluationPeriods ?? 2, 1, 100, 'use 1 or more', 2);
  const estimatedInstanceWarmup = durationInRange(mistakes, 'scaling.estimatedInstanceWarmup', scaling.estimatedInstanceWarmup ?? Duration.seconds(0), 0, 3600,
    'use Duration.seconds(0): the capacity gap counts instances on their way already', Duration.seconds(0));
  if (!estimatedInstanceWarmup.isUnresolved() && estimatedInstanceWarmup.toSeconds({ integral: false }) > 0) {
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

  const launchTimeout = durationInRange(mistakes, 'launchTimeout', props.launchTimeout ?? Duration.minutes(15), 60, 7200,
    'a lifecycle hook heartbeat lasts 30 s to 2 h; give at least a minute for preparation', Duration.minutes(15));
  const drainTimeout = durationInRange(mistakes, 'drainTimeout', props.drainTimeout ?? Duration.hours(2), 0, 48 * 3600,
    'a terminating instance can be held for at most 48 hours', Duration.hours(2));
  const offlineGracePeriod = durationInRange(mistakes, 'offlineGracePeriod', props.offlineGracePeriod ?? Duration.minutes(15), 60, 14 * 86_400,
    'use between 1 minute and 14 days', Duration.minutes(15));

  // The instances install these with the package manager: a name that is none would break the bootstrap.
  const extraPackages = (props.extraPackages ?? []).filter((pkg) => Token.isUnresolved(pkg) || mistakes.check(/^[A-Za-z0-9][A-Za-z0-9+._:=~-]*$/.test(pkg),
    () => `extraPackages contains ${JSON.stringify(pkg)}: a package name has letters, digits and + . _ : = ~ - only`));

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
    runnerGroupName,
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
    extraPackages,
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
  sizes: {
    readonly instanceType: ec2.InstanceType;
    readonly maxCapacity: number;
    /** Whether maxCapacity is the user's (not a fallback): only then is a comparison with it reported. */
    readonly maxSound: boolean;
    /** Undefined when the user's size was a mistake (reported already). */
    readonly rootVolumeGiB?: number;
  },
  warnings: FleetWarning[],
  mistakes: Mistakes,
): FleetSettings['warmPool'] {
  const { instanceType, maxCapacity, maxSound, rootVolumeGiB } = sizes;
  const options = props.warmPool ?? {};
  if (options.enabled === false) {
    return undefined;
  }
  let poolState = options.poolState ?? autoscaling.PoolState.STOPPED;
  let minSize = wholeInRange(mistakes, 'warmPool.minSize', options.minSize ?? 0, 0, 10_000, 'use 0 or more', 0);
  if (minSize > maxCapacity) {
    if (maxSound) {
      mistakes.add(`warmPool.minSize (${minSize}) must not exceed maxCapacity (${maxCapacity}): lower warmPool.minSize or raise maxCapacity`);
    }
    minSize = maxCapacity;
  }
  let prepared = options.maxGroupPreparedCapacity;
  if (prepared !== undefined) {
    prepared = wholeInRange(mistakes, 'warmPool.maxGroupPreparedCapacity', prepared, 1, 10_000, 'use 1 or more', maxCapacity);
    if (prepared > maxCapacity) {
      if (maxSound) {
        mistakes.add(`warmPool.maxGroupPreparedCapacity (${prepared}) must not exceed maxCapacity (${maxCapacity}): lower it or raise maxCapacity`);
      }
      prepared = maxCapacity;
    }
    if (prepared < minSize) {
      mistakes.add(`warmPool.maxGroupPreparedCapacity (${prepared}) must not be below warmPool.minSize (${minSize})`);
      prepared = minSize === 0 ? undefined : minSize;
    }
  }
  if (poolState === autoscaling.PoolState.HIBERNATED) {
    const typeName = instanceType.toString();
    const facts = hibernationFacts(typeName);
    if (facts.supported === false) {
      mistakes.add(`warmPool.poolState is HIBERNATED but instanceType (${typeName}) cannot hibernate: use an x86_64 family such as m7i, c7i, r7i or t3, or PoolState.STOPPED`);
      poolState = autoscaling.PoolState.STOPPED;
    } else {
      if (facts.supported === undefined) {
        warnings.push({ id: 'HibernationUnverified', message: `warmPool.poolState is HIBERNATED and instanceType (${typeName}) is not in this library's table: check that it can hibernate.` });
      }
      if (facts.memoryGiB !== undefined) {
        const needed = Math.ceil(facts.memoryGiB + HIBERNATION_ROOT_HEADROOM_GIB);
        if (facts.memoryGiB > MAX_HIBERNATION_MEMORY_GIB) {
          mistakes.add(`warmPool.poolState is HIBERNATED but instanceType (${typeName}) has ${facts.memoryGiB} GiB of memory; AWS hibernates at most ${MAX_HIBERNATION_MEMORY_GIB} GiB: use a smaller size or PoolState.STOPPED`);
          poolState = autoscaling.PoolState.STOPPED;
        } else if (rootVolumeGiB !== undefined && rootVolumeGiB < needed) {
          mistakes.add(`rootVolumeSize (${rootVolumeGiB} GiB) is too small to hibernate ${typeName} (${facts.memoryGiB} GiB of memory): use at least Size.gibibytes(${needed})`);
          poolState = autoscaling.PoolState.STOPPED;
        }
      }
    }
  }
  if (poolState === autoscaling.PoolState.RUNNING) {
    warnings.push({ id: 'RunningWarmPool', message: 'warmPool.poolState is RUNNING: warm instances cost as much as instances in service. STOPPED costs only their volumes.' });
  }
  return { poolState, minSize, maxGroupPreparedCapacity: prepared, reuseOnScaleIn: options.reuseOnScaleIn ?? true };
}

/**
 * An alarm's period: 10, 20 or 30 seconds or a multiple of 60 (a CloudWatch alarm rule); otherwise a
 * mistake is recorded and `fallback` (the default) is used.
 */
function alarmPeriod(mistakes: Mistakes, prop: string, value: Duration | undefined, fallback: Duration): Duration {
  const period = value ?? fallback;
  if (period.isUnresolved()) {
    return period;
  }
  const seconds = period.toSeconds({ integral: false });
  return mistakes.valueOr(period, [10, 20, 30].includes(seconds) || (seconds >= 60 && seconds % 60 === 0),
    () => `${prop} (${period.toHumanString()}) must be 10, 20 or 30 seconds or a multiple of 60 seconds (a CloudWatch alarm rule)`, fallback);
}
