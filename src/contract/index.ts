/**
 * Names shared by the constructs (src/) and the runtime (lambda/).
 *
 * This module must not import aws-cdk-lib or constructs: lambda/ bundles it.
 */

/** Environment variable that carries the fleet configuration (JSON, see {@link FleetRuntimeConfig}). */
export const ENV_FLEET_CONFIG = 'RUNNER_FLEET_CONFIG';

/** CloudWatch namespace of every metric this library publishes. */
export const METRIC_NAMESPACE = 'GitHubRunnerFleet';

/** Metric names. All are published with the single dimension {@link DIMENSION_FLEET}. */
export const MetricNames = {
  IDLE_RUNNERS: 'IdleRunners',
  BUSY_RUNNERS: 'BusyRunners',
  OFFLINE_RUNNERS: 'OfflineRunners',
  REGISTRATIONS: 'Registrations',
  REGISTRATION_FAILURES: 'RegistrationFailures',
  DEREGISTRATIONS: 'Deregistrations',
  DEREGISTRATION_FAILURES: 'DeregistrationFailures',
  ORPHANS_REMOVED: 'OrphansRemoved',
  GITHUB_ERRORS: 'GitHubErrors',
  /** Webhook: jobs routed to the fleet and still queued (high resolution). */
  QUEUED_JOBS: 'QueuedJobs',
  /**
   * The capacity controller: the capacity the fleet needs less its desired capacity, after the
   * controller's own direct action (high resolution). The scaling alarms watch it: a positive gap adds
   * that many instances in one step, a negative one that lasts removes the excess.
   */
  CAPACITY_GAP: 'CapacityGap',
  /** The capacity controller: running + waiting jobs + idle target, within min..max (high resolution). */
  CAPACITY_NEEDED: 'CapacityNeeded',
  /** Webhook: seconds from a job's queued to its in_progress delivery (unit Seconds). */
  JOB_START_SECONDS: 'JobStartSeconds',
  /** Webhook: self-hosted jobs no fleet can run (dimension `Fleet` = {@link NO_FLEET}). */
  UNROUTABLE_JOBS: 'UnroutableJobs',
  /** Webhook: deliveries refused (bad or missing signature, oversized, malformed). */
  WEBHOOK_REJECTED: 'WebhookRejected',
  /** Spot interruption warnings received for the fleet's instances. */
  SPOT_INTERRUPTIONS: 'SpotInterruptions',
  /** GitHub rate limit remaining in the core bucket, as of the last listing. */
  RATE_LIMIT_REMAINING: 'GitHubRateLimitRemaining',
  /**
   * Registration: a launch event for an action no longer pending (a duplicate, a late or reordered
   * event, or one completed by a concurrent invocation): nothing done.
   */
  DUPLICATE_LAUNCH_EVENTS: 'DuplicateLaunchEvents',
  /** Registration: a runner of the instance's name exists but no secret yet: left to the invocation in flight (or the hook's timeout). */
  LAUNCH_CONFLICTS_LEFT_IN_FLIGHT: 'LaunchConflictsLeftInFlight',
  /** Registration: the launch action expired (or was abandoned) before this invocation completed it; its runner and secret removed. */
  EXPIRED_LAUNCH_ACTIONS: 'ExpiredLaunchActions',
  /** Webhook: deliveries for another organization, repository, enterprise or App installation (answered 202, not acted on). */
  FOREIGN_DELIVERIES: 'ForeignDeliveries',
  /**
   * Reconciliation: queued jobs GitHub would not show (403, or a 404 that may be one): they keep counting
   * as waiting. Usually the GitHub App lacks the repository permission "Actions: read".
   */
  JOB_LOOKUP_DENIED: 'JobLookupDenied',
  /** The minute tick: failed `workflow_job` deliveries of the GitHub App that were redelivered. */
  DELIVERIES_REDELIVERED: 'DeliveriesRedelivered',
  /** The minute tick: listing or redelivering the App's failed deliveries failed. */
  REDELIVERY_FAILURES: 'RedeliveryFailures',
} as const;

/** The `Fleet` dimension value of metrics that belong to no fleet (unroutable jobs, rate limits). */
export const NO_FLEET = '(none)';

/** The dimension every fleet metric carries: the fleet's name. */
export const DIMENSION_FLEET = 'Fleet';

/** Tag keys written on AWS resources. */
export const TagKeys = {
  /** On the Auto Scaling group (and its instances): the fleet name. */
  FLEET: 'github-runner-fleet:fleet',
  /** On a per-instance secret: the full ARN of the only instance allowed to read it. */
  INSTANCE_ARN: 'github-runner-fleet:instance-arn',
  /** On a per-instance secret: the instance id (used by the orphan sweep). */
  INSTANCE_ID: 'github-runner-fleet:instance-id',
  /** On the Auto Scaling group: the id of the control plane serving it (its functions' permissions are conditioned on it). */
  CONTROL_PLANE: 'github-runner-fleet:control-plane',
} as const;

/**
 * Names of the lifecycle hooks of a fleet whose configuration names none (each control plane names its
 * fleets' hooks after itself, see `controlPlaneNames` in src/lifecycle/names.ts: its rules match those names).
 */
export const LAUNCH_HOOK_NAME = 'github-runner-fleet-launch';
export const TERMINATE_HOOK_NAME = 'github-runner-fleet-terminate';

/** Runner modes, as they travel in the runtime configuration. */
export type RunnerModeValue = 'ephemeral' | 'persistent';

/** GitHub scopes, as they travel in the runtime configuration. */
export type GitHubScopeKind = 'organization' | 'repository' | 'enterprise';

/** How the GitHub credentials secret is to be read. */
export type GitHubAuthKind = 'app' | 'token';

/**
 * The runtime configuration each function receives in {@link ENV_FLEET_CONFIG}.
 *
 * One connection, one or more fleets. Parsed and validated once at cold start
 * (lambda/core/config.ts).
 */
export interface FleetRuntimeConfig {
  readonly version: 1;
  readonly github: GitHubRuntimeConfig;
  /**
   * The fleets declared in the control plane's own stack. May be empty when `fleetDirectory` is given
   * (every fleet is then in another stack).
   */
  readonly fleets: FleetRuntimeEntry[];
  /** Present when the control plane has a webhook endpoint. */
  readonly webhook?: WebhookRuntimeConfig;
  /**
   * The path (starting and ending with `/`) of the SSM parameters through which fleets of other stacks
   * join: one String parameter per fleet, named `<path><fleet name>`, whose value is the fleet's entry as
   * JSON (the wire form of {@link FleetRuntimeEntry}). The functions read them by path and serve them
   * beside `fleets`. Absent: every fleet is in `fleets`.
   */
  readonly fleetDirectory?: string;
}

/** The webhook's runtime settings. */
export interface WebhookRuntimeConfig {
  /** DynamoDB table of deliveries and jobs. */
  readonly tableName: string;
  /** ARN of the secret holding the webhook secret. */
  readonly secretArn: string;
  /** Larger bodies are refused with 413. */
  readonly maxBodyBytes: number;
}

/**
 * The form {@link FleetRuntimeConfig} travels in when its fleets would not fit into Lambda's 4 KB of
 * environment variables as plain JSON: `fleetsGzip` is the base64 of the gzipped JSON array of fleets.
 */
export interface CompressedFleetRuntimeConfig {
  readonly version: 1;
  readonly github: GitHubRuntimeConfig;
  readonly fleetsGzip: string;
  /**
   * The fields of each fleet (same order as the gzipped array) whose values are only known at deploy
   * time (the instance role's generated name): they cannot be compressed at synthesis, so they travel
   * beside the gzipped fleets and are merged back into them by the functions.
   */
  readonly fleetValues?: Array<Record<string, string>>;
  readonly webhook?: WebhookRuntimeConfig;
}

export interface GitHubRuntimeConfig {
  readonly scope: GitHubScopeKind;
  /** Organization login, repository owner, or enterprise slug. */
  readonly owner: string;
  /** Repository name (repository scope only). */
  readonly repo?: string;
  /** REST API base URL, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
  readonly apiUrl: string;
  /** ARN of the Secrets Manager secret holding the credentials. */
  readonly secretArn: string;
  readonly auth: GitHubAuthKind;
}

export interface FleetRuntimeEntry {
  /** Fleet name: the metric dimension and the runner name prefix. */
  readonly name: string;
  /** The Auto Scaling group's name. */
  readonly autoScalingGroupName: string;
  /**
   * The name of the fleet's instance role (not its ARN, no path): an instance's role session is
   * `arn:<partition>:sts::<account>:assumed-role/<this name>/<instance id>`, and the instance agent
   * serves only callers with such a session (lambda/core/instance-agent.ts).
   */
  readonly instanceRoleName: string;
  /** The label that marks this fleet's runners (always part of `labels`). */
  readonly fleetLabel: string;
  /** All custom labels the runners register with. */
  readonly labels: string[];
  readonly mode: RunnerModeValue;
  /**
   * Runner group id for JIT configurations (organization and enterprise scope); 1 is the default group.
   * Absent with `runnerGroupName`: the functions look the id up by name.
   */
  readonly runnerGroupId?: number;
  /** Runner group name for `config.sh --runnergroup` (persistent mode, organization scope). */
  readonly runnerGroupName?: string;
  /** Prefix of per-instance secret names: `<prefix><instance-id>`. Ends with '/'. */
  readonly secretPrefix: string;
  /** Seconds an offline runner of this fleet may stay registered before the sweep removes it. */
  readonly offlineGraceSeconds: number;
  /** Seconds a terminating instance whose runner is busy is kept (heartbeats) before it is let go. */
  readonly drainTimeoutSeconds: number;
  /** Idle runners to keep ready (the demand signal adds it to the queued jobs). @default 0 */
  readonly idleTarget?: number;
  /** The runners' operating system label. @default 'linux' */
  readonly os?: string;
  /** The runners' architecture label, `x64` or `arm64`. @default 'x64' */
  readonly architecture?: string;
  /**
   * Whether the control plane raises the group's desired capacity to the need itself
   * (SetDesiredCapacity) before publishing the gap that the alarms watch. @default false
   */
  readonly directScaleOut?: boolean;
  /** The name of the group's launch lifecycle hook. @default LAUNCH_HOOK_NAME */
  readonly launchHookName?: string;
  /** The name of the group's terminate lifecycle hook. @default TERMINATE_HOOK_NAME */
  readonly terminateHookName?: string;
}

/** Name of the runner registered for an instance: `<fleet name>-<instance id>`. */
export function runnerNameFor(fleetName: string, instanceId: string): string {
  return `${fleetName}-${instanceId}`;
}

/**
 * The JSON stored in a per-instance secret, read by the instance's bootstrap script.
 */
export interface InstanceSecretPayload {
  readonly mode: RunnerModeValue;
  readonly runnerName: string;
  /** Ephemeral mode: the encoded JIT configuration for `run.sh --jitconfig`. */
  readonly jitConfig?: string;
  /** Persistent mode: the registration token for `config.sh --token`. */
  readonly registrationToken?: string;
  /** Persistent mode: the URL `config.sh --url` takes (organization or repository page). */
  readonly registrationUrl?: string;
  /** Persistent mode: comma-separated labels for `config.sh --labels`. */
  readonly labels?: string;
  /** Persistent mode: the runner group name for `config.sh --runnergroup`, when not the default. */
  readonly runnerGroupName?: string;
}
