import { Duration, Size } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GitHubConnection } from '../github/connection';
import { RunnerOperatingSystem } from '../instances/operating-system';
import { IGitHubRunnerControlPlane } from '../lifecycle/control-plane-reference';

/** How runners take jobs. */
export enum RunnerMode {
  /**
   * One job per instance: the runner is registered with a just-in-time configuration, takes one job, and
   * the instance is then replaced (from the warm pool when there is one). Clean machines, no state
   * leaking between jobs.
   */
  EPHEMERAL = 'ephemeral',
  /** The runner is registered with a registration token and stays, taking job after job. */
  PERSISTENT = 'persistent',
}

/** The warm pool: instances prepared in advance (packages, runner, Docker) but not registered with GitHub. */
export interface RunnerWarmPoolOptions {
  /**
   * Whether the group keeps a warm pool.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * The state of warm instances. `STOPPED` costs only the EBS volumes; `HIBERNATED` resumes faster but
   * needs a hibernation-capable instance type and a root volume larger than the instance's memory;
   * `RUNNING` is the fastest and costs as much as a running instance.
   *
   * @default autoscaling.PoolState.STOPPED
   */
  readonly poolState?: autoscaling.PoolState;

  /**
   * The minimum number of instances kept in the warm pool, whatever the group's desired capacity.
   *
   * @default 0
   */
  readonly minSize?: number;

  /**
   * The most instances, in service and warm together, that the group keeps prepared.
   *
   * @default - the group's maxCapacity
   */
  readonly maxGroupPreparedCapacity?: number;

  /**
   * Whether instances scaled in go back to the warm pool instead of being terminated. Their runner is
   * removed from GitHub first; a new one is registered when they come back into service.
   *
   * @default true
   */
  readonly reuseOnScaleIn?: boolean;
}

/** Spot capacity of a fleet. */
export interface RunnerSpotOptions {
  /**
   * On-demand instances the group always keeps before any spot instance.
   *
   * @default 0
   */
  readonly onDemandBaseCapacity?: number;

  /**
   * Percentage of on-demand instances above the base (0: all spot above the base).
   *
   * @default 0
   */
  readonly onDemandPercentageAboveBaseCapacity?: number;

  /**
   * How spot capacity is chosen.
   *
   * @default autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED
   */
  readonly allocationStrategy?: autoscaling.SpotAllocationStrategy;

  /**
   * Capacity rebalancing: launch a replacement when EC2 signals that a spot instance is at elevated risk
   * of interruption (its terminate hook still lets a running job finish while capacity allows).
   *
   * @default true
   */
  readonly capacityRebalance?: boolean;
}

/**
 * When the group scales, and how fast.
 *
 * The control plane's capacity controller publishes each fleet's capacity gap (the capacity it needs,
 * less its desired capacity) on every webhook delivery and once a minute; two alarms on the gap drive
 * step scaling policies that close the whole gap in one step.
 */
export interface RunnerScalingOptions {
  /**
   * The scale-in alarm's period (10, 20, 30 seconds or a multiple of 60).
   *
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;

  /**
   * Periods the capacity gap must be 1 or more before the group scales out.
   *
   * @default 1
   */
  readonly scaleOutEvaluationPeriods?: number;

  /**
   * Periods the fleet must have had capacity beyond its need (every point of each period) before the
   * group scales in: with the default one-minute period, excess capacity goes within about two minutes.
   *
   * @default 2
   */
  readonly scaleInEvaluationPeriods?: number;

  /**
   * The step policies' instance warm-up. The capacity gap counts instances on their way already, so no
   * warm-up is needed to keep a step from being applied twice; a longer one only makes repeated alarms
   * add less, and blocks scale-in while any instance warms up.
   *
   * @default Duration.seconds(0)
   */
  readonly estimatedInstanceWarmup?: Duration;

  /**
   * The scale-out alarm's period (10, 20, 30 seconds or a multiple of 60). The capacity gap is
   * published at 1-second resolution.
   *
   * @default Duration.seconds(10)
   */
  readonly demandPeriod?: Duration;

  /**
   * Whether the control plane raises the group's desired capacity to the need itself
   * (SetDesiredCapacity) as soon as it sees a positive gap, and publishes only what is left for the
   * scale-out alarm. It makes a burst of any size (up to `maxCapacity`) one call, seconds after the
   * webhook delivery, instead of one alarm period later and at most 20 instances per step. It only ever
   * raises capacity: scale-in stays with the scale-in alarm.
   *
   * @default true
   */
  readonly directScaleOut?: boolean;
}

/**
 * Properties of a {@link GitHubRunnerFleet}.
 *
 * A mistake in them (a value out of range, props that contradict each other) does not throw from the
 * constructor: it is reported when the app is synthesized, together with every other mistake, after the
 * fleet's construct path. Only a missing `vpc` or `github` (or no props) throws at once.
 */
export interface GitHubRunnerFleetProps {
  /** The VPC the runners run in. */
  readonly vpc: ec2.IVpc;

  /**
   * Where the runners register, and the credentials to do it. Fleets given the same connection object
   * in one stack share one control plane (one runner listing per minute for all of them).
   *
   * @default - the connection of `controlPlane`; one of the two is required
   */
  readonly github?: GitHubConnection;

  /**
   * The control plane that registers and removes this fleet's runners and measures them. Pass one you
   * created to choose its settings (sweep interval, webhook) or to share it explicitly: from this stack,
   * from another stack of the app (the fleet then joins through the control plane's fleet directory), or
   * from another app (`GitHubRunnerControlPlane.fromControlPlaneName`).
   *
   * @default - the control plane of `github` in this stack, created on first use
   */
  readonly controlPlane?: IGitHubRunnerControlPlane;

  /**
   * The runners' custom labels. A job runs on this fleet when its `runs-on` labels are all among these
   * (plus `self-hosted`, the OS and architecture labels GitHub adds, and the fleet label).
   */
  readonly labels: string[];

  /**
   * The fleet's name: the metric dimension, the runner name prefix (`<name>-<instance id>`) and the
   * per-instance secret prefix. 1-32 letters, digits and hyphens.
   *
   * @default - derived from the construct path
   */
  readonly fleetName?: string;

  /**
   * Subnets for the runners.
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The instance type.
   *
   * @default ec2.InstanceType.of(ec2.InstanceClass.M7I, ec2.InstanceSize.LARGE)
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * Several instance types the group may launch, in order of preference (a mixed instances policy):
   * more capacity pools for spot, fewer "insufficient capacity" errors. All must share one architecture
   * (the image follows it). Instead of `instanceType`. Not with a warm pool (see `spot`).
   *
   * @default - `instanceType` alone
   */
  readonly instanceTypes?: ec2.InstanceType[];

  /**
   * Spot instances, with an optional on-demand base. EC2 Auto Scaling keeps no instance of a mixed
   * instances policy (spot, or several types) in a warm pool, so a fleet with spot needs
   * `warmPool: { enabled: false }`; with the control plane's webhook, queued jobs still bring their
   * instances in one step. Capacity rebalancing replaces instances at risk before they are reclaimed, and
   * the instance stops taking jobs when it receives an interruption notice.
   *
   * @default - on-demand instances only
   */
  readonly spot?: RunnerSpotOptions;

  /**
   * The operating system the default image and the bootstrap script are for.
   *
   * @default RunnerOperatingSystem.AMAZON_LINUX_2023
   */
  readonly operatingSystem?: RunnerOperatingSystem;

  /**
   * An image to use instead of the operating system's default one. It must run the chosen operating
   * system on the instance type's architecture.
   *
   * @default - the latest image of `operatingSystem` for the instance type's architecture, resolved at deploy time
   */
  readonly machineImage?: ec2.IMachineImage;

  /**
   * The root volume's size (encrypted gp3).
   *
   * @default Size.gibibytes(30)
   */
  readonly rootVolumeSize?: Size;

  /**
   * The GitHub Actions runner version the instances install (x.y.z).
   *
   * @default '2.329.0'
   */
  readonly runnerVersion?: string;

  /**
   * The SHA-256 of the runner release tarball for this fleet's architecture
   * (`actions-runner-linux-<x64|arm64>-<runnerVersion>.tar.gz`), 64 hexadecimal digits. The instances
   * refuse a download with any other digest before they unpack or run anything from it. GitHub shows the
   * digest of each file in the release notes of the version.
   *
   * @default - the digest this library pins for `runnerVersion`; required for any other version
   * @see https://github.com/actions/runner/releases
   */
  readonly runnerSha256?: string;

  /**
   * A mirror of the runner releases for networks that cannot reach github.com: the instances download
   * `<base>/v<version>/actions-runner-linux-<arch>-<version>.tar.gz`; the checksum is verified either
   * way. An https URL.
   *
   * @default 'https://github.com/actions/runner/releases/download'
   */
  readonly runnerDownloadBaseUrl?: string;

  /**
   * Ephemeral (one job per instance) or persistent runners.
   *
   * @default RunnerMode.EPHEMERAL
   */
  readonly runnerMode?: RunnerMode;

  /**
   * The runner group id (organization and enterprise scope); 1 is the default group. Give
   * `runnerGroupName` alone to have the id looked up by name.
   *
   * @default - 1, or the id of `runnerGroupName`
   */
  readonly runnerGroupId?: number;

  /**
   * The runner group, by name (organization and enterprise scope). Without `runnerGroupId`, the
   * registration function looks the id up (once, then every 15 minutes); a name that does not exist fails
   * the registration with a clear error (logged, counted in `RegistrationFailures`).
   *
   * @default - the default group
   */
  readonly runnerGroupName?: string;

  /**
   * The fewest instances in service.
   *
   * @default 0
   */
  readonly minCapacity?: number;

  /**
   * The most instances in service.
   *
   * @default 10
   */
  readonly maxCapacity?: number;

  /**
   * How many idle runners to keep ready. Below it the group scales out by the whole deficit in one step;
   * above it, it scales in by the excess (never a busy runner).
   *
   * @default 1
   */
  readonly idleRunners?: number;

  /**
   * Instances older than this are replaced (never while running a job: busy instances are protected).
   *
   * @default Duration.days(7)
   */
  readonly maxInstanceLifetime?: Duration;

  /**
   * The warm pool.
   *
   * @default - a warm pool of stopped instances, reused on scale-in
   */
  readonly warmPool?: RunnerWarmPoolOptions;

  /**
   * Scaling alarms and policies.
   *
   * @default - one-minute alarms; see RunnerScalingOptions
   */
  readonly scaling?: RunnerScalingOptions;

  /**
   * Whether the instances install and start Docker (the runner user joins the docker group).
   *
   * @default true
   */
  readonly installDocker?: boolean;

  /**
   * Extra operating-system packages to install while preparing an instance.
   *
   * @default - none
   */
  readonly extraPackages?: string[];

  /**
   * Extra shell commands run as root while preparing an instance (before it is stopped in the warm pool).
   *
   * @default - none
   */
  readonly extraCommands?: string[];

  /**
   * Whether the runner user (and so every job) is blocked from the instance metadata service, where the
   * instance role's credentials are. Containers are blocked in any case (hop limit 1).
   *
   * @default true
   */
  readonly blockJobMetadataAccess?: boolean;

  /**
   * How long an instance may spend in the launch hook (preparing, registering) before it is abandoned
   * and replaced.
   *
   * @default Duration.minutes(15)
   */
  readonly launchTimeout?: Duration;

  /**
   * How long a terminating instance whose runner is still busy is kept, so that its job can finish.
   *
   * @default Duration.hours(2)
   */
  readonly drainTimeout?: Duration;

  /**
   * How long a runner or secret without an instance is left alone before the sweep removes it.
   *
   * @default Duration.minutes(15)
   */
  readonly offlineGracePeriod?: Duration;
}
