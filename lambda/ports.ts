/**
 * The interfaces handlers depend on. Adapters (lambda/adapters/) implement them with the AWS SDK and
 * Octokit; tests implement them in memory.
 */

/** A self-hosted runner as GitHub's REST API describes it (only the fields we use). */
export interface GitHubRunner {
  readonly id: number;
  readonly name: string;
  readonly status: 'online' | 'offline';
  readonly busy: boolean;
  /** Label names, as GitHub returns them (case preserved). */
  readonly labels: string[];
  readonly ephemeral?: boolean;
  readonly runnerGroupId?: number;
}

export interface JitConfigRequest {
  readonly name: string;
  readonly labels: string[];
  readonly runnerGroupId: number;
  readonly workFolder?: string;
}

export interface JitConfig {
  readonly runnerId: number;
  readonly encodedJitConfig: string;
}

export interface RegistrationToken {
  readonly token: string;
  /** ISO 8601 timestamp. */
  readonly expiresAt: string;
}

/** What deleting a runner came to. `busy` means GitHub refused because the runner is running a job (422). */
export type DeleteRunnerOutcome = 'deleted' | 'not-found' | 'busy';

/** Everything we ask of GitHub. One instance per connection (organization or repository scope). */
export interface GitHubPort {
  /** Every runner of the scope, all pages (`per_page=100`). */
  listRunners(): Promise<GitHubRunner[]>;
  /** The runner with exactly this name, using the `name` filter of the list endpoint. */
  findRunnerByName(name: string): Promise<GitHubRunner | undefined>;
  generateJitConfig(request: JitConfigRequest): Promise<JitConfig>;
  createRegistrationToken(): Promise<RegistrationToken>;
  deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome>;
  /**
   * Where a workflow job stands (`GET /repos/{owner}/{repo}/actions/jobs/{job_id}`): reconciles the
   * webhook's view when a delivery was lost. `not-found` when the job or repository is gone or unreadable.
   */
  getJobStatus(repository: string, jobId: number): Promise<JobStatus | 'not-found'>;
  /**
   * The id of the runner group with exactly this name (organization or enterprise scope), or undefined
   * when there is none. Looked up once and remembered for a while.
   */
  findRunnerGroupId(name: string): Promise<number | undefined>;
  /** The core rate limit as of the last answer, when one has been seen. */
  rateLimit?(): { readonly remaining: number; readonly limit: number } | undefined;
  /**
   * GitHub App connections: the recent deliveries of the App's webhook (`GET /app/hook/deliveries`, App
   * JWT), newest first, until one older than `since` or after `maxPages` pages of 100.
   */
  listAppHookDeliveries?(since: Date, maxPages: number): Promise<HookDelivery[]>;
  /** GitHub App connections: delivers a delivery again (`POST /app/hook/deliveries/{id}/attempts`, App JWT). */
  redeliverAppHookDelivery?(deliveryId: number): Promise<void>;
  /** The URL `config.sh --url` takes: the organization's or repository's page on the GitHub host. */
  registrationUrl(): string;
}

/** One attempt of a webhook delivery, as GitHub lists it (only the fields we use). */
export interface HookDelivery {
  /** The attempt's id (redeliveries have ids of their own). */
  readonly id: number;
  /** The `X-GitHub-Delivery` value, shared by a delivery's attempts. */
  readonly guid: string;
  /** ISO 8601. */
  readonly deliveredAt: string;
  readonly redelivery: boolean;
  /** The HTTP status the endpoint answered (0 when it did not answer). */
  readonly statusCode: number;
  readonly event: string;
  readonly action?: string;
}

/**
 * Error classes of GitHub failures, decided once in the adapter so handlers never parse HTTP.
 * - `conflict`: 409 (e.g. a JIT runner name that already exists)
 * - `validation`: 422 other than "runner busy"
 * - `not-found`: 404
 * - `auth`: 401 or 403 that is not a rate limit
 * - `rate-limited`: 403/429 rate limit after the throttling plugin gave up
 * - `server`: 5xx after retries
 * - `network`: timeouts, connection errors
 * - `credentials`: the credentials secret is missing or malformed
 */
export type GitHubErrorKind =
  | 'conflict'
  | 'validation'
  | 'not-found'
  | 'auth'
  | 'rate-limited'
  | 'server'
  | 'network'
  | 'credentials';

export class GitHubError extends Error {
  constructor(
    message: string,
    public readonly kind: GitHubErrorKind,
    public readonly status?: number,
    public readonly requestId?: string,
  ) {
    super(message);
    this.name = 'GitHubError';
  }
}

/** One lifecycle action to complete or extend. `token` is used when known, else the instance id. */
export interface LifecycleActionRef {
  readonly autoScalingGroupName: string;
  readonly hookName: string;
  readonly instanceId: string;
  readonly token?: string;
}

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** An instance of an Auto Scaling group (including its warm pool). */
export interface GroupInstance {
  readonly instanceId: string;
  /** The Auto Scaling lifecycle state, e.g. `InService`, `Pending:Wait`, `Terminating:Wait`, `Warmed:Stopped`. */
  readonly lifecycleState: string;
  readonly protectedFromScaleIn?: boolean;
  /**
   * For an instance in `Terminating:Wait`: when its termination began (ISO 8601), from the group's
   * scaling activities; undefined when unknown.
   */
  readonly terminatingSince?: string;
}

export interface AutoScalingPort {
  /**
   * Completes a lifecycle action. Resolves `false` (instead of throwing) when AWS says there is no such
   * action any more (already completed, timed out, instance gone): completing is idempotent.
   */
  completeLifecycleAction(action: LifecycleActionRef, result: LifecycleResult): Promise<boolean>;
  /** Extends a lifecycle action by one heartbeat timeout. Resolves `false` when there is no such action. */
  recordHeartbeat(action: LifecycleActionRef): Promise<boolean>;
  /** The group an instance belongs to, or undefined when it belongs to none. */
  groupOfInstance(instanceId: string): Promise<string | undefined>;
  /**
   * The lifecycle state of one instance (DescribeAutoScalingInstances, warm pool included), e.g.
   * `Pending:Wait`, `InService`, `Terminating:Wait`, `Warmed:Stopped`; undefined when no group knows it.
   * Without it, the registration function decides as if the state were unknown.
   */
  lifecycleStateOf?(instanceId: string): Promise<string | undefined>;
  /** The instances of a group, in service and in its warm pool. */
  listGroupInstances(autoScalingGroupName: string): Promise<GroupInstance[]>;
  /**
   * The group's sizes and its instances (not those of its warm pool), in one DescribeAutoScalingGroups
   * call: the facts the capacity controller counts.
   */
  describeCapacity(autoScalingGroupName: string): Promise<GroupCapacity>;
  /** SetDesiredCapacity, without honouring cooldowns: the controller's direct path. */
  setDesiredCapacity(autoScalingGroupName: string, desiredCapacity: number): Promise<void>;
  /** The ids of the instances in a group's warm pool (DescribeWarmPool, all pages); none without a warm pool. */
  listWarmPoolInstances(autoScalingGroupName: string): Promise<string[]>;
  /**
   * SetInstanceProtection (scale-in protection) for one instance of a group. `not-in-service` when AWS
   * refuses because the instance is not InService (terminating already, still pending, in the warm pool).
   */
  setInstanceProtection(autoScalingGroupName: string, instanceId: string, protectedFromScaleIn: boolean): Promise<InstanceActionOutcome>;
  /**
   * TerminateInstanceInAutoScalingGroup. With `decrementDesiredCapacity` the group shrinks by one;
   * `at-min-size` when AWS refuses that because the desired capacity is the group's minimum size.
   */
  terminateInstance(instanceId: string, decrementDesiredCapacity: boolean): Promise<TerminateOutcome>;
  /** SetInstanceHealth Unhealthy, not respecting the grace period: the group replaces the instance. */
  setUnhealthy(instanceId: string): Promise<InstanceActionOutcome>;
}

/**
 * What an Auto Scaling call on one instance came to, classified once in the adapter so handlers never
 * parse AWS messages.
 * - `done`: AWS accepted it
 * - `not-in-service`: AWS refused because of the instance's state ("is not in InService ...": terminating
 *   already, pending, in the warm pool)
 * - `not-found`: no group knows the instance any more (terminated)
 */
export type InstanceActionOutcome = 'done' | 'not-in-service' | 'not-found';

/** `at-min-size`: a decrement refused because the desired capacity is the group's minimum size. */
export type TerminateOutcome = InstanceActionOutcome | 'at-min-size';

/** A group's sizes and instances, as DescribeAutoScalingGroups reports them. */
export interface GroupCapacity {
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  /** The group's instances (pending, in service, terminating), without the warm pool's. */
  readonly instances: GroupInstance[];
}

/** A per-instance secret as listed (never with its value). */
export interface InstanceSecretInfo {
  readonly name: string;
  readonly instanceId?: string;
  /** ISO 8601 timestamp. */
  readonly createdAt?: string;
}

export interface InstanceSecretWrite {
  /** Full secret name: `<fleet secret prefix><instance id>`. */
  readonly name: string;
  readonly instanceId: string;
  /** `arn:<partition>:ec2:<region>:<account>:instance/<id>`: the tag the instance role is conditioned on. */
  readonly instanceArn: string;
  /** JSON text (an `InstanceSecretPayload`). */
  readonly value: string;
}

export interface SecretsPort {
  /** Creates the secret, or puts a new value if it exists already (idempotent). Tags it with the instance. */
  putInstanceSecret(secret: InstanceSecretWrite): Promise<void>;
  /** Deletes the secret at once (no recovery window). Resolves `false` when it did not exist. */
  deleteInstanceSecret(name: string): Promise<boolean>;
  /**
   * Whether the secret exists (DescribeSecret); one scheduled for deletion does not. Without it, the
   * registration function decides as if it could not tell.
   */
  instanceSecretExists?(name: string): Promise<boolean>;
  /** Every secret whose name starts with `prefix`. */
  listInstanceSecrets(prefix: string): Promise<InstanceSecretInfo[]>;
}

/** Counters and gauges, per fleet. Implemented with Powertools Metrics (EMF) in production. */
export interface MetricOptions {
  /** @default 'Count' */
  readonly unit?: 'Count' | 'Seconds';
  /** Stored at 1-second resolution, for alarms with 10-second periods. @default false */
  readonly highResolution?: boolean;
}

export interface MetricsPort {
  add(name: string, fleet: string, value: number, options?: MetricOptions): void;
  /** Sends everything added so far. */
  flush(): void | Promise<void>;
}

/** Structured logging; the adapter adds the request id and cold-start flag to every line. */
export interface LoggerPort {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** Facts about where the function runs, resolved once at cold start. */
export interface RuntimeEnvironment {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}

/** Where a workflow job stands, as far as the webhook (or a reconciliation) has told us. */
export type JobStatus = 'queued' | 'in_progress' | 'completed';

/** A workflow job routed to a fleet, kept until some hours after it is over. */
export interface JobRecord {
  readonly jobId: number;
  /** The fleet the job was routed to. */
  readonly fleet: string;
  readonly status: JobStatus;
  /** `owner/repo` of the job's repository: reconciliation reads the job there. */
  readonly repository: string;
  /** When GitHub queued the job (ISO 8601, the payload's `created_at`). */
  readonly queuedAt: string;
  /** When this record last changed (ISO 8601). */
  readonly updatedAt: string;
}

/** Webhook deliveries and the jobs they announce (a DynamoDB table in production). */
export interface JobStorePort {
  /**
   * Records a delivery id until `expiresAt`. Resolves `false` when the id was recorded before: a
   * duplicate or a replay, to be dropped.
   */
  claimDelivery(deliveryId: string, expiresAt: Date): Promise<boolean>;
  /**
   * Creates or advances a job's record, kept until `expiresAt`. A job never moves back (queued, then
   * in_progress, then completed), whatever order deliveries arrive in: resolves `false` when the stored
   * record was already at this status or beyond (nothing changed).
   */
  putJob(job: JobRecord, expiresAt: Date): Promise<boolean>;
  /** Every job of `fleet` still queued (all pages). */
  queuedJobs(fleet: string): Promise<JobRecord[]>;
}

/** Checks `X-Hub-Signature-256` against the raw body, in constant time. */
export interface SignatureVerifier {
  /** `signature` is the header's value (`sha256=<hex>`); resolves false for any mismatch or malformed value. */
  verify(body: string, signature: string): Promise<boolean>;
}

/** The fleet directory: one SSM parameter per fleet of another stack than its control plane's. */
export interface FleetDirectoryPort {
  /** Every parameter directly below `path` (all pages): its name and value. */
  readParameters(path: string): Promise<Array<{ readonly name: string; readonly value: string }>>;
}
