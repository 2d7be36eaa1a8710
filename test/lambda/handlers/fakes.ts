import type { HandlerDeps } from '../../../lambda/handlers/deps';
import type {
  AutoScalingPort, DeleteRunnerOutcome, GitHubPort, GitHubRunner, GroupInstance, HookDelivery, InstanceSecretInfo, InstanceSecretWrite,
  JitConfigRequest, JobRecord, JobStatus, JobStorePort, LifecycleActionRef, LifecycleResult, LoggerPort, MetricOptions, MetricsPort,
  SecretsPort, SignatureVerifier,
} from '../../../lambda/ports';
import { GitHubError } from '../../../lambda/ports';
import { runtimeConfig } from '../fixtures';

/** Every call any fake saw, in order: the oracle for "what happened, in which order". */
export type Call = { port: string; method: string; args: unknown[] };

/** Failures to inject: method name → error to throw (once per entry; `times` repeats). */
export class Faults {
  private readonly queue = new Map<string, Array<() => unknown>>();
  add(method: string, error: () => unknown, times = 1): void {
    const list = this.queue.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(error);
    this.queue.set(method, list);
  }
  take(method: string): void {
    const next = this.queue.get(method)?.shift();
    if (next) {
      throw next();
    }
  }
}

const STATUS_RANK: Record<JobStatus, number> = { queued: 1, in_progress: 2, completed: 3 };

/** An Auto Scaling group as DescribeAutoScalingGroups and SetDesiredCapacity see it. */
export interface GroupModel {
  desired: number;
  min: number;
  max: number;
  /** The group's instances (not its warm pool's), with their scale-in protection. */
  instances: GroupInstance[];
}

export class World {
  readonly calls: Call[] = [];
  readonly faults = new Faults();
  runners: GitHubRunner[] = [];
  readonly secrets = new Map<string, InstanceSecretWrite & { createdAt: string }>();
  readonly completed: Array<{ action: LifecycleActionRef; result: LifecycleResult }> = [];
  readonly heartbeats: LifecycleActionRef[] = [];
  instances: GroupInstance[] = [];
  readonly metrics: Array<{ name: string; fleet: string; value: number; options?: MetricOptions }> = [];
  /** The group of each instance (DescribeAutoScalingInstances). */
  readonly instanceGroups = new Map<string, string>();
  /** Runner groups by name. */
  readonly runnerGroups = new Map<string, number>([['Default', 1]]);
  /** What GitHub says of a job, by job id (absent: still queued). */
  readonly jobStatuses = new Map<number, JobStatus | 'not-found'>();
  readonly deliveries = new Set<string>();
  /** The GitHub App's webhook deliveries (any order); a redelivery adds an attempt answered `redeliveryStatus`. */
  readonly hookDeliveries: HookDelivery[] = [];
  redeliveryStatus = 202;
  readonly jobRecords = new Map<number, JobRecord>();
  /**
   * The Auto Scaling groups behind describeCapacity and setDesiredCapacity, by name. A group not set up
   * here is created on first use (see {@link World.group}).
   */
  readonly groups = new Map<string, GroupModel>();
  readonly logs: Array<{ level: string; message: string; attributes?: Record<string, unknown> }> = [];
  /** Actions that no longer exist (completing them resolves false). */
  readonly goneActions = new Set<string>();
  /** `<hook name>/<instance id>` of actions that are not waiting: heartbeats and completions resolve false. */
  readonly missingActions = new Set<string>();
  /** Lifecycle action tokens of actions that are over: completing by such a token finds no action. */
  readonly staleTokens = new Set<string>();
  /** The instance ids in each group's warm pool (DescribeWarmPool). */
  readonly warmPools = new Map<string, string[]>();
  /**
   * Lifecycle states by instance id (DescribeAutoScalingInstances); `null` for an instance no group knows.
   * An instance not listed is `Pending:Wait`; completing its launch action moves it on (CONTINUE:
   * `InService`, ABANDON: `Terminating`).
   */
  readonly lifecycleStates = new Map<string, string | null>();
  /** Scale-in protection set on instances, by instance id. */
  readonly protections = new Map<string, boolean>();
  /** Instances on their way out (terminating): Auto Scaling refuses protection, termination and health for them. */
  readonly terminating = new Set<string>();
  /** Instances marked unhealthy. */
  readonly unhealthy = new Set<string>();
  private nextRunnerId = 100;

  readonly github: GitHubPort = {
    listRunners: async () => {
      this.record('github', 'listRunners', []);
      return [...this.runners];
    },
    findRunnerByName: async (name) => {
      this.record('github', 'findRunnerByName', [name]);
      return this.runners.find((r) => r.name === name);
    },
    generateJitConfig: async (request: JitConfigRequest) => {
      this.record('github', 'generateJitConfig', [request]);
      if (this.runners.some((r) => r.name === request.name)) {
        throw new GitHubError('Already exists', 'conflict', 409);
      }
      const id = this.nextRunnerId++;
      this.runners.push({ id, name: request.name, status: 'offline', busy: false, labels: request.labels });
      return { runnerId: id, encodedJitConfig: `JITCONFIG-SECRET-${id}` };
    },
    createRegistrationToken: async () => {
      this.record('github', 'createRegistrationToken', []);
      return { token: 'REGTOKEN-SECRET', expiresAt: '2026-11-24T13:00:00Z' };
    },
    deleteRunner: async (runnerId: number): Promise<DeleteRunnerOutcome> => {
      this.record('github', 'deleteRunner', [runnerId]);
      const runner = this.runners.find((r) => r.id === runnerId);
      if (!runner) return 'not-found';
      if (runner.busy) return 'busy';
      this.runners = this.runners.filter((r) => r.id !== runnerId);
      return 'deleted';
    },
    findRunnerGroupId: async (name) => {
      this.record('github', 'findRunnerGroupId', [name]);
      return this.runnerGroups.get(name);
    },
    getJobStatus: async (repository, jobId) => {
      this.record('github', 'getJobStatus', [repository, jobId]);
      return this.jobStatuses.get(jobId) ?? 'queued';
    },
    listAppHookDeliveries: async (since, maxPages) => {
      this.record('github', 'listAppHookDeliveries', [since, maxPages]);
      return this.hookDeliveries.filter((d) => Date.parse(d.deliveredAt) >= since.getTime());
    },
    redeliverAppHookDelivery: async (deliveryId) => {
      this.record('github', 'redeliverAppHookDelivery', [deliveryId]);
      const original = this.hookDeliveries.find((d) => d.id === deliveryId);
      if (!original) throw new GitHubError('Not Found', 'not-found', 404);
      const id = 1 + Math.max(...this.hookDeliveries.map((d) => d.id));
      this.hookDeliveries.push({ ...original, id, redelivery: true, statusCode: this.redeliveryStatus });
    },
    registrationUrl: () => 'https://github.com/acme',
  };

  /** The job store, with the conditional writes of the real table: a job never moves back. */
  readonly jobs: JobStorePort = {
    claimDelivery: async (id) => {
      this.record('jobs', 'claimDelivery', [id]);
      if (this.deliveries.has(id)) return false;
      this.deliveries.add(id);
      return true;
    },
    putJob: async (job) => {
      this.record('jobs', 'putJob', [job]);
      const existing = this.jobRecords.get(job.jobId);
      if (existing && STATUS_RANK[existing.status] >= STATUS_RANK[job.status]) return false;
      this.jobRecords.set(job.jobId, job);
      return true;
    },
    queuedJobs: async (fleet) => {
      this.record('jobs', 'queuedJobs', [fleet]);
      return [...this.jobRecords.values()].filter((j) => j.fleet === fleet && j.status === 'queued');
    },
  };

  /** Accepts exactly the signature `sha256=good`. */
  readonly verifier: SignatureVerifier = {
    verify: async (_body, signature) => {
      this.record('verifier', 'verify', [signature]);
      return signature === 'sha256=good';
    },
  };

  readonly autoScaling: AutoScalingPort = {
    completeLifecycleAction: async (action, result) => {
      this.record('autoScaling', 'completeLifecycleAction', [action, result]);
      if (this.goneActions.has(action.instanceId) || this.missingActions.has(`${action.hookName}/${action.instanceId}`)) return false;
      if (action.token !== undefined && this.staleTokens.has(action.token)) return false;
      this.completed.push({ action, result });
      this.goneActions.add(action.instanceId);
      if (action.hookName.endsWith('-launch')) {
        this.lifecycleStates.set(action.instanceId, result === 'CONTINUE' ? 'InService' : 'Terminating');
      }
      return true;
    },
    recordHeartbeat: async (action) => {
      this.record('autoScaling', 'recordHeartbeat', [action]);
      if (this.missingActions.has(`${action.hookName}/${action.instanceId}`)) return false;
      this.heartbeats.push(action);
      return true;
    },
    groupOfInstance: async (instanceId) => {
      this.record('autoScaling', 'groupOfInstance', [instanceId]);
      return this.instanceGroups.get(instanceId);
    },
    lifecycleStateOf: async (instanceId) => {
      this.record('autoScaling', 'lifecycleStateOf', [instanceId]);
      const state = this.lifecycleStates.has(instanceId) ? this.lifecycleStates.get(instanceId) : 'Pending:Wait';
      return state ?? undefined;
    },
    listGroupInstances: async (name) => {
      this.record('autoScaling', 'listGroupInstances', [name]);
      return [...this.instances];
    },
    describeCapacity: async (name) => {
      this.record('autoScaling', 'describeCapacity', [name]);
      const group = this.group(name);
      return { desired: group.desired, min: group.min, max: group.max, instances: group.instances.map((i) => ({ ...i })) };
    },
    setDesiredCapacity: async (name, desired) => {
      this.record('autoScaling', 'setDesiredCapacity', [name, desired]);
      const group = this.group(name);
      // As Auto Scaling answers: a ValidationError outside min..max, nothing changed.
      if (desired > group.max || desired < group.min) {
        throw Object.assign(new Error(`New SetDesiredCapacity value ${desired} is outside ${group.min}..${group.max} for the AutoScalingGroup.`), { name: 'ValidationError' });
      }
      group.desired = desired;
    },
    listWarmPoolInstances: async (name) => {
      this.record('autoScaling', 'listWarmPoolInstances', [name]);
      return [...(this.warmPools.get(name) ?? [])];
    },
    setInstanceProtection: async (name, instanceId, protectedFromScaleIn) => {
      this.record('autoScaling', 'setInstanceProtection', [name, instanceId, protectedFromScaleIn]);
      if (this.terminating.has(instanceId)) return 'not-in-service';
      this.protections.set(instanceId, protectedFromScaleIn);
      return 'done';
    },
    // As Auto Scaling answers: a decrement is refused when the group's desired capacity is its minimum.
    terminateInstance: async (instanceId, decrement) => {
      this.record('autoScaling', 'terminateInstance', [instanceId, decrement]);
      if (this.terminating.has(instanceId)) return 'not-in-service';
      const groupName = this.instanceGroups.get(instanceId);
      if (decrement && groupName) {
        const group = this.group(groupName);
        if (group.desired <= group.min) return 'at-min-size';
        group.desired--;
      }
      this.terminating.add(instanceId);
      return 'done';
    },
    setUnhealthy: async (instanceId) => {
      this.record('autoScaling', 'setUnhealthy', [instanceId]);
      if (this.terminating.has(instanceId)) return 'not-in-service';
      this.unhealthy.add(instanceId);
      return 'done';
    },
  };

  readonly secretsPort: SecretsPort = {
    putInstanceSecret: async (secret) => {
      this.record('secrets', 'putInstanceSecret', [secret]);
      this.secrets.set(secret.name, { ...secret, createdAt: '2026-11-24T10:00:00Z' });
    },
    deleteInstanceSecret: async (name) => {
      this.record('secrets', 'deleteInstanceSecret', [name]);
      return this.secrets.delete(name);
    },
    instanceSecretExists: async (name) => {
      this.record('secrets', 'instanceSecretExists', [name]);
      return this.secrets.has(name);
    },
    listInstanceSecrets: async (prefix) => {
      this.record('secrets', 'listInstanceSecrets', [prefix]);
      return [...this.secrets.values()]
        .filter((s) => s.name.startsWith(prefix))
        .map((s): InstanceSecretInfo => ({ name: s.name, instanceId: s.instanceId, createdAt: s.createdAt }));
    },
  };

  readonly metricsPort: MetricsPort = {
    add: (name, fleet, value, options) => {
      this.metrics.push({ name, fleet, value, options });
    },
    flush: () => {},
  };

  readonly logger: LoggerPort = {
    info: (message, attributes) => this.logs.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => this.logs.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => this.logs.push({ level: 'error', message, attributes }),
  };

  private record(port: string, method: string, args: unknown[]): void {
    this.calls.push({ port, method, args });
    this.faults.take(method);
  }

  /** The group named `name`, created on first use with `initial` over 0 desired, sizes 0..10 and no instance. */
  group(name: string, initial: Partial<GroupModel> = {}): GroupModel {
    let group = this.groups.get(name);
    if (!group) {
      group = { desired: 0, min: 0, max: 10, instances: [], ...initial };
      this.groups.set(name, group);
    } else {
      Object.assign(group, initial);
    }
    return group;
  }

  callsOf(method: string): Call[] {
    return this.calls.filter((c) => c.method === method);
  }

  order(): string[] {
    return this.calls.map((c) => c.method);
  }

  deps(config = runtimeConfig(), now = new Date('2026-11-24T10:00:30Z')): HandlerDeps {
    return {
      config,
      github: this.github,
      autoScaling: this.autoScaling,
      secrets: this.secretsPort,
      metrics: this.metricsPort,
      logger: this.logger,
      environment: { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' },
      jobs: config.webhook ? this.jobs : undefined,
      now: () => now,
    };
  }

  metricTotal(name: string, fleet = 'linux'): number {
    return this.metrics.filter((m) => m.name === name && m.fleet === fleet).reduce((a, m) => a + m.value, 0);
  }

  /** The last value of a metric for a fleet (gauges), or undefined. */
  lastMetric(name: string, fleet = 'linux'): number | undefined {
    return this.metrics.filter((m) => m.name === name && m.fleet === fleet).at(-1)?.value;
  }

  /** Everything logged, as one string: to check that no secret value ever reaches the logs. */
  allLogText(): string {
    return JSON.stringify(this.logs);
  }
}
