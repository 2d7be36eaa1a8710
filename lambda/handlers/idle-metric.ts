import { describeError, HandlerDeps } from './deps';
import { JOB_RECORD_TTL_SECONDS, publishDemand } from './webhook';
import { MetricNames, NO_FLEET } from '../../src/contract';
import { countRunnersByFleet, RunnerCounts } from '../core/runner-counts';
import { jobsToReconcile } from '../core/webhook';
import type { JobRecord } from '../ports';

/** Queued jobs checked against the REST API per tick at most: bounds the cost of lost deliveries. */
export const RECONCILE_LIMIT = 20;

export interface IdleMetricReport {
  readonly ok: boolean;
  /** Counts per fleet name (absent when GitHub could not be read). */
  readonly counts?: Record<string, { idle: number; busy: number; offline: number; total: number }>;
  readonly error?: string;
  /** With a webhook: queued jobs found already started or gone, and corrected. */
  readonly reconciled?: number;
}

/**
 * Lists the connection's runners once and publishes idle, busy and offline counts for every fleet.
 * When GitHub cannot be read nothing is published: a zero would read as "no idle runner" and scale out
 * during an outage; the alarms treat missing data as not breaching.
 */
export function createIdleMetricHandler(
  deps: Pick<HandlerDeps, 'config' | 'github' | 'metrics' | 'logger' | 'jobs' | 'now'>,
): () => Promise<IdleMetricReport> {
  const now = deps.now ?? (() => new Date());
  return async () => {
    try {
      const runners = await deps.github.listRunners();
      const counts = countRunnersByFleet(runners, deps.config.fleets);
      const report: NonNullable<IdleMetricReport['counts']> = {};
      for (const [fleet, c] of counts) {
        deps.metrics.add(MetricNames.IDLE_RUNNERS, fleet, c.idle);
        deps.metrics.add(MetricNames.BUSY_RUNNERS, fleet, c.busy);
        deps.metrics.add(MetricNames.OFFLINE_RUNNERS, fleet, c.offline);
        report[fleet] = { ...c };
      }
      const rateLimit = deps.github.rateLimit?.();
      if (rateLimit) {
        deps.metrics.add(MetricNames.RATE_LIMIT_REMAINING, NO_FLEET, rateLimit.remaining);
      }
      const reconciled = deps.config.webhook && deps.jobs ? await updateDemand(deps, counts, now()) : undefined;
      deps.logger.info('Runner counts published', { runners: runners.length, counts: report, reconciled });
      return { ok: true, counts: report, reconciled };
    } catch (error) {
      deps.logger.error('Could not list runners; publishing no counts this time', describeError(error));
      for (const fleet of deps.config.fleets) {
        deps.metrics.add(MetricNames.GITHUB_ERRORS, fleet.name, 1);
      }
      return { ok: false, error: describeError(error).error as string };
    } finally {
      await deps.metrics.flush();
    }
  };
}

/**
 * With a webhook: corrects queued jobs whose in_progress or completed delivery was lost (the oldest
 * first, a bounded number per tick), stores each fleet's idle count for the webhook, and publishes
 * each fleet's queued jobs and demand from this fresh count. A failure here never stops the counts.
 */
async function updateDemand(
  deps: Pick<HandlerDeps, 'config' | 'github' | 'metrics' | 'logger' | 'jobs'>,
  counts: Map<string, RunnerCounts>,
  at: Date,
): Promise<number> {
  const jobs = deps.jobs!;
  let reconciled = 0;
  // Queued jobs per fleet, read once for the reconciliation and kept up to date by it for the demand.
  let queuedByFleet: Map<string, number> | undefined;
  try {
    const queued: JobRecord[] = [];
    const counted = new Map<string, number>();
    for (const fleet of deps.config.fleets) {
      const fleetJobs = await jobs.queuedJobs(fleet.name);
      counted.set(fleet.name, fleetJobs.length);
      queued.push(...fleetJobs);
    }
    queuedByFleet = counted;
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
  }
  for (const fleet of deps.config.fleets) {
    const idle = counts.get(fleet.name)?.idle ?? 0;
    try {
      await jobs.putFleetState(fleet.name, { idle, measuredAt: at.toISOString() });
      await publishDemand({ jobs, metrics: deps.metrics }, fleet, at, { queued: queuedByFleet?.get(fleet.name), idle });
    } catch (error) {
      deps.logger.warn('The demand of a fleet could not be updated', { fleet: fleet.name, ...describeError(error) });
    }
  }
  return reconciled;
}
