import { capacitySummary, controlCapacity, controlFleet, ControlReport } from './capacity-controller';
import { describeError, HandlerDeps } from './deps';
import { MetricNames, NO_FLEET } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import { countRunnersByFleet } from '../core/runner-counts';
import { JOB_RECORD_TTL_SECONDS, jobsToReconcile } from '../core/webhook';
import type { GitHubRunner, JobRecord } from '../ports';

/** Queued jobs checked against the REST API per tick at most: bounds the cost of lost deliveries. */
export const RECONCILE_LIMIT = 20;

export interface IdleMetricReport {
  readonly ok: boolean;
  /** Counts per fleet name (absent when GitHub could not be read). */
  readonly counts?: Record<string, { idle: number; busy: number; offline: number; total: number }>;
  readonly error?: string;
  /** With a webhook: queued jobs found already started or gone, and corrected. */
  readonly reconciled?: number;
  /** The capacity controller's evaluation per fleet (absent for a fleet it could not evaluate). */
  readonly capacity?: Record<string, Record<string, unknown>>;
}

type TickDeps = Pick<HandlerDeps, 'config' | 'github' | 'metrics' | 'logger' | 'jobs' | 'now' | 'autoScaling'>;

/**
 * The minute tick: lists the connection's runners once and publishes idle, busy and offline counts for
 * every fleet, then runs every fleet's capacity controller. With a webhook the controller needs no
 * GitHub data (waiting jobs come from the job table, busy instances from Auto Scaling), so it runs even
 * when GitHub cannot be read; without one it needs the idle count and is skipped then (a zero would
 * read as "every runner busy" and grow the fleet during an outage).
 */
export function createIdleMetricHandler(deps: TickDeps): () => Promise<IdleMetricReport> {
  const now = deps.now ?? (() => new Date());
  return async () => {
    try {
      let runners: GitHubRunner[] | undefined;
      let error: string | undefined;
      try {
        runners = await deps.github.listRunners();
      } catch (e) {
        deps.logger.error('Could not list runners; publishing no counts this time', describeError(e));
        for (const fleet of deps.config.fleets) {
          deps.metrics.add(MetricNames.GITHUB_ERRORS, fleet.name, 1);
        }
        error = describeError(e).error as string;
      }
      const report: NonNullable<IdleMetricReport['counts']> = {};
      if (runners) {
        for (const [fleet, c] of countRunnersByFleet(runners, deps.config.fleets)) {
          deps.metrics.add(MetricNames.IDLE_RUNNERS, fleet, c.idle);
          deps.metrics.add(MetricNames.BUSY_RUNNERS, fleet, c.busy);
          deps.metrics.add(MetricNames.OFFLINE_RUNNERS, fleet, c.offline);
          report[fleet] = { ...c };
        }
        const rateLimit = deps.github.rateLimit?.();
        if (rateLimit) {
          deps.metrics.add(MetricNames.RATE_LIMIT_REMAINING, NO_FLEET, rateLimit.remaining);
        }
      }
      const demand = deps.config.webhook && deps.jobs ? await reconcileQueues(deps, now()) : undefined;
      const capacity: NonNullable<IdleMetricReport['capacity']> = {};
      for (const fleet of deps.config.fleets) {
        const evaluated = await controlTick(deps, fleet, runners, demand?.queued.get(fleet.name));
        if (evaluated) {
          capacity[fleet.name] = capacitySummary(evaluated);
        }
      }
      deps.logger.info('Runner counts published', { runners: runners?.length, counts: report, reconciled: demand?.reconciled, capacity });
      return runners
        ? { ok: true, counts: report, reconciled: demand?.reconciled, capacity }
        : { ok: false, error, reconciled: demand?.reconciled, capacity };
    } finally {
      await deps.metrics.flush();
    }
  };
}

/** One fleet's controller evaluation in the tick; a failure here never stops the other fleets. */
async function controlTick(
  deps: TickDeps,
  fleet: FleetRuntimeEntry,
  runners: GitHubRunner[] | undefined,
  queued: number | undefined,
): Promise<ControlReport | undefined> {
  try {
    if (deps.config.webhook && deps.jobs) {
      return await controlFleet({ ...deps, jobs: deps.jobs }, fleet, queued);
    }
    return runners ? await controlCapacity(deps, fleet, { runners }) : undefined;
  } catch (error) {
    deps.logger.warn('The capacity of a fleet could not be evaluated', { fleet: fleet.name, ...describeError(error) });
    return undefined;
  }
}

/**
 * With a webhook: corrects queued jobs whose in_progress or completed delivery was lost (the oldest
 * first, a bounded number per tick) and returns each fleet's queued count as corrected. A failure
 * leaves the counts undefined: each fleet's controller then reads its queue itself.
 */
async function reconcileQueues(
  deps: Pick<HandlerDeps, 'config' | 'github' | 'logger' | 'jobs'>,
  at: Date,
): Promise<{ queued: Map<string, number>; reconciled: number }> {
  const jobs = deps.jobs!;
  let reconciled = 0;
  const counted = new Map<string, number>();
  try {
    const queued: JobRecord[] = [];
    for (const fleet of deps.config.fleets) {
      const fleetJobs = await jobs.queuedJobs(fleet.name);
      counted.set(fleet.name, fleetJobs.length);
      queued.push(...fleetJobs);
    }
    for (const job of jobsToReconcile(queued, at, RECONCILE_LIMIT)) {
      const status = await deps.github.getJobStatus(job.repository, job.jobId);
      if (status !== 'queued') {
        await jobs.putJob({ ...job, status: status === 'not-found' ? 'completed' : status, updatedAt: at.toISOString() },
          new Date(at.getTime() + JOB_RECORD_TTL_SECONDS * 1000));
        counted.set(job.fleet, (counted.get(job.fleet) ?? 1) - 1);
        reconciled++;
      }
    }
  } catch (error) {
    deps.logger.warn('Queued jobs could not be reconciled this time', describeError(error));
    return { queued: new Map(), reconciled };
  }
  return { queued: counted, reconciled };
}
