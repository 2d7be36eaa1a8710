import type { Assumptions } from './assumptions';
import { SimCloudWatch, SimGroup, SimInstance, SimPolicies } from './aws';
import { Random, SimClock } from './engine';
import { SimGitHub, SimJob } from './github';
import type { AlarmModel, WarmPoolModel } from './template';
import { labelsOfFleet } from '../../lambda/core/webhook';
import { createIdleMetricHandler } from '../../lambda/handlers/idle-metric';
import { createWebhookHandler } from '../../lambda/handlers/webhook';
import type { AutoScalingPort, GitHubPort, JobRecord, JobStorePort, LoggerPort, MetricsPort } from '../../lambda/ports';
import type { FleetRuntimeConfig, FleetRuntimeEntry } from '../../src/contract';
import { runnerNameFor } from '../../src/contract';

/** One configuration of a fleet to simulate: what the handlers get, and what AWS is set up with. */
export interface RunConfiguration {
  /** `fleet`, `fleet-no-webhook` or `reference`. */
  readonly name: string;
  /** The runtime configuration the real handlers run with (this fleet only). */
  readonly config: FleetRuntimeConfig;
  readonly minSize: number;
  readonly maxSize: number;
  readonly warmPool?: WarmPoolModel;
  readonly alarms: AlarmModel[];
  /** What this configuration changed from the synthesized fleet, for the report. */
  readonly overrides: string[];
  /**
   * How an ephemeral instance leaves after its job: with a decrement of the desired capacity (this
   * library: the controller decides on a replacement), or without (the group replaces it at once).
   */
  readonly retireWithDecrement: boolean;
}

/** A job of a scenario: when it is queued (seconds from the start), how long it runs, its labels. */
export interface JobSpec {
  readonly queuedAt: number;
  readonly duration: number;
  readonly labels?: string[];
}

export interface RunResult {
  readonly configuration: string;
  /** Seconds from queued to running, over the jobs that started. */
  readonly waitP50: number;
  readonly waitP95: number;
  readonly waitMax: number;
  /** Seconds from queued to running of the job that started first (the first job of a scale from zero). */
  readonly waitMin: number;
  /** Hours of instances in the group (pending, in service, terminating); the warm pool's stopped instances are not counted. */
  readonly instanceHours: number;
  /** Instance-hours above running jobs + idle target. */
  readonly excessInstanceHours: number;
  readonly peakInstances: number;
  /** Jobs whose instance was terminated while they ran. */
  readonly jobsKilled: number;
  /** Jobs still waiting when the simulation ended. */
  readonly unstarted: number;
  readonly jobs: number;
  /** The upper end of the assumed warm start. */
  readonly warmStartSeconds: number;
  readonly overrides: string[];
  /** Counts of the model's events: launches, scale-ins, blocked scale-ins, alarm executions, direct raises. */
  readonly events: Record<string, number>;
}

const EPOCH = Date.parse('2026-01-05T00:00:00Z');
const SIGNATURE = 'sha256=simulated';

/**
 * Runs one configuration through a list of jobs: the real webhook and minute-tick handlers (with their
 * capacity controller) against in-memory ports backed by the models of Auto Scaling, CloudWatch and
 * GitHub, on a simulated clock. Deterministic for a seed.
 */
export async function simulate(run: RunConfiguration, specs: JobSpec[], assume: Assumptions, seed: number): Promise<RunResult> {
  const clock = new SimClock();
  const random = new Random(seed);
  const fleet: FleetRuntimeEntry = run.config.fleets[0];
  const idleTarget = fleet.idleTarget ?? 0;
  const ephemeral = fleet.mode === 'ephemeral';
  const now = () => new Date(EPOCH + clock.now * 1000);
  const events: Record<string, number> = { directRaises: 0, deliveries: 0, ticks: 0 };

  const cloudWatch = new SimCloudWatch(clock, assume);
  let github: SimGitHub;
  const byId = new Map<string, SimInstance>();
  const group = new SimGroup(clock, random, assume, { min: run.minSize, max: run.maxSize, warmPool: run.warmPool }, {
    inService: (instance) => {
      byId.set(instance.id, instance);
      github.register(instance.id, runnerNameFor(fleet.name, instance.id), fleet.labels, labelsOfFleet(fleet));
    },
    runnerStopped: (instance) => github.remove(runnerNameFor(fleet.name, instance.id)),
  });
  const policies = new SimPolicies(clock, group, cloudWatch, assume);

  // The job table, with the real table's rules: a delivery id once, a job never moving back.
  const records = new Map<number, JobRecord>();
  const deliveries = new Set<string>();
  const rank = { queued: 1, in_progress: 2, completed: 3 } as const;
  const store: Pick<JobStorePort, 'claimDelivery' | 'putJob' | 'queuedJobs'> = {
    claimDelivery: async (id) => !deliveries.has(id) && Boolean(deliveries.add(id)),
    putJob: async (job) => {
      const existing = records.get(job.jobId);
      if (existing && rank[existing.status] >= rank[job.status]) return false;
      records.set(job.jobId, job);
      return true;
    },
    queuedJobs: async (name) => [...records.values()].filter((j) => j.fleet === name && j.status === 'queued'),
  };
  const jobStore = store as JobStorePort;

  const pending: Array<[string, number]> = [];
  const metrics: MetricsPort = {
    add: (name, _fleet, value) => {
      pending.push([name, value]);
    },
    flush: () => {
      for (const [name, value] of pending.splice(0)) cloudWatch.put(name, value);
    },
  };
  const silent: LoggerPort = { info: () => {}, warn: () => {}, error: () => {} };
  const notSimulated = (what: string) => async (): Promise<never> => {
    throw new Error(`${what} is not simulated`);
  };
  const autoScaling: AutoScalingPort = {
    describeCapacity: async () => ({
      desired: group.desired,
      min: group.min,
      max: group.max,
      instances: group.inGroup().map((i) => ({
        instanceId: i.id,
        lifecycleState: i.state === 'inservice' ? 'InService' : i.state === 'pending' ? 'Pending' : 'Terminating:Wait',
        protectedFromScaleIn: i.protected,
      })),
    }),
    setDesiredCapacity: async (_name, desired) => {
      events.directRaises++;
      group.setDesired(desired);
    },
    completeLifecycleAction: notSimulated('CompleteLifecycleAction'),
    recordHeartbeat: notSimulated('RecordLifecycleActionHeartbeat'),
    groupOfInstance: notSimulated('DescribeAutoScalingInstances'),
    listGroupInstances: notSimulated('DescribeWarmPool'),
    listWarmPoolInstances: notSimulated('DescribeWarmPool'),
    setInstanceProtection: notSimulated('SetInstanceProtection'),
    terminateInstance: notSimulated('TerminateInstanceInAutoScalingGroup'),
    setUnhealthy: notSimulated('SetInstanceHealth'),
  };
  const githubPort: GitHubPort = {
    listRunners: async () => [...github.runners.values()].map((r) => ({
      id: r.id, name: r.name, status: 'online' as const, busy: github.reportedBusy(r), labels: r.labels, ephemeral,
    })),
    getJobStatus: async (_repository, jobId) => github.statusOf(jobId),
    findRunnerByName: notSimulated('findRunnerByName'),
    generateJitConfig: notSimulated('generateJitConfig'),
    createRegistrationToken: notSimulated('createRegistrationToken'),
    deleteRunner: notSimulated('deleteRunner'),
    findRunnerGroupId: notSimulated('findRunnerGroupId'),
    registrationUrl: () => 'https://github.com/simulated',
  };

  const webhook = run.config.webhook
    ? createWebhookHandler({
      config: run.config,
      jobs: jobStore,
      autoScaling,
      metrics,
      logger: silent,
      now,
      verifier: { verify: async (_body, signature) => signature === SIGNATURE },
    })
    : undefined;
  const tick = createIdleMetricHandler({
    config: run.config,
    github: githubPort,
    autoScaling,
    metrics,
    logger: silent,
    now,
    jobs: run.config.webhook ? jobStore : undefined,
  });

  github = new SimGitHub(clock, random, assume, ephemeral, {
    jobStarted: (job, runner) => {
      const instance = byId.get(runner.instanceId);
      if (!instance) return;
      instance.job = { id: job.id };
      clock.after(assume.protectDelay, () => group.setProtection(instance, true));
    },
    jobEnded: (_job, runner) => {
      const instance = byId.get(runner.instanceId);
      if (!instance) return;
      instance.used = true;
      group.jobEnded(instance);
      if (ephemeral) {
        clock.after(assume.retireDelay, () => {
          if (instance.state !== 'inservice') return;
          try {
            group.terminateInstance(instance, run.retireWithDecrement);
          } catch {
            group.terminateInstance(instance, false); // at min size a replacement is needed anyway
          }
        });
      } else {
        clock.after(assume.protectDelay, () => group.setProtection(instance, false));
      }
    },
    deliver: async (action, job) => {
      if (!webhook) return;
      events.deliveries++;
      const iso = (t?: number) => (t === undefined ? null : new Date(EPOCH + t * 1000).toISOString());
      await webhook({
        method: 'POST',
        headers: { 'x-hub-signature-256': SIGNATURE, 'x-github-event': 'workflow_job', 'x-github-delivery': `${job.id}-${action}` },
        body: JSON.stringify({
          action,
          workflow_job: {
            id: job.id,
            run_id: job.id,
            labels: job.labels,
            status: action,
            created_at: iso(job.queuedAt),
            started_at: iso(job.startedAt),
            runner_name: action === 'queued' ? null : job.runner?.name ?? null,
          },
          // A delivery for the connection's own scope: others are answered and not acted on.
          repository: { full_name: `${run.config.github.owner}/${run.config.github.repo ?? 'repository'}` },
          organization: { login: run.config.github.owner },
          ...(run.config.github.scope === 'enterprise' ? { enterprise: { slug: run.config.github.owner } } : {}),
        }),
      });
    },
  });

  // Accounting: instance time, and instance time above running jobs + idle target.
  let instanceSeconds = 0;
  let excessSeconds = 0;
  let peak = 0;
  clock.onAdvance = (from, to) => {
    const n = group.inGroup().length;
    const running = github.jobs.filter((j) => j.startedAt !== undefined && j.endedAt === undefined).length;
    instanceSeconds += n * (to - from);
    excessSeconds += Math.max(0, n - running - idleTarget) * (to - from);
    peak = Math.max(peak, n);
  };

  group.start(Math.max(idleTarget, run.minSize));
  for (const alarm of run.alarms) {
    cloudWatch.watch(alarm, (policy, value, a) => policies.execute(policy, value, a));
  }
  clock.every(assume.tickInterval, random.next() * assume.tickInterval, async () => {
    events.ticks++;
    await tick();
  });
  const labels = ['self-hosted', ...fleet.labels];
  specs.forEach((spec, n) => {
    clock.at(spec.queuedAt, () => github.enqueue({ id: n + 1, queuedAt: spec.queuedAt, duration: spec.duration, labels: spec.labels ?? labels }));
  });
  // Until every job has ended and the fleet had half an hour to settle, or GitHub's 24 hours for a
  // queued job have passed since the last one.
  const lastEnd = Math.max(0, ...specs.map((s) => s.queuedAt + s.duration));
  const cap = Math.max(0, ...specs.map((s) => s.queuedAt)) + 24 * 3600;
  let until = lastEnd + 1800;
  await clock.runUntil(until);
  while (until < cap && (github.jobs.length < specs.length || github.jobs.some((j) => j.endedAt === undefined))) {
    until = Math.min(cap, until + 600);
    await clock.runUntil(until);
  }
  const settled = github.jobs.reduce((t, j) => Math.max(t, j.endedAt ?? cap), lastEnd) + 1800;
  if (settled > until && until < cap) {
    await clock.runUntil(Math.min(cap, settled));
  }

  const waits = github.jobs.filter((j) => j.startedAt !== undefined).map((j) => j.startedAt! - j.queuedAt).sort((a, b) => a - b);
  const killed = [...byId.values()].reduce((sum, i) => sum + i.killedJobs, 0);
  return {
    configuration: run.name,
    waitP50: round(percentile(waits, 0.5)),
    waitP95: round(percentile(waits, 0.95)),
    waitMax: round(waits.at(-1) ?? 0),
    waitMin: round(waits[0] ?? 0),
    instanceHours: round(instanceSeconds / 3600, 2),
    excessInstanceHours: round(excessSeconds / 3600, 2),
    peakInstances: peak,
    jobsKilled: killed,
    unstarted: github.jobs.filter((j) => j.startedAt === undefined).length + Math.max(0, specs.length - github.jobs.length),
    jobs: specs.length,
    warmStartSeconds: assume.warmStart.max,
    overrides: run.overrides,
    events: {
      ...events,
      alarmExecutions: cloudWatch.executions.length,
      warmLaunches: group.stats.launchedWarm,
      coldLaunches: group.stats.launchedCold,
      scaleInTerminations: group.stats.scaleInTerminations,
      blockedScaleIns: group.stats.blockedScaleIns,
      decrementsRefused: group.stats.decrementRefused,
    },
  };
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export type { SimJob };
