import { capacitySummary, controlCapacity, controlFleet, ControlReport } from './capacity-controller';
import { describeError, HandlerDeps } from './deps';
import { MetricNames, NO_FLEET } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import { DEFAULT_REDELIVERY_POLICY, deliveriesToRedeliver, RedeliveryPolicy } from '../core/redelivery';
import { countRunnersByFleet } from '../core/runner-counts';
import { JOB_RECORD_TTL_SECONDS, jobsToReconcile, pastQueueLimit } from '../core/webhook';
import type { GitHubRunner, JobRecord } from '../ports';

/** Queued jobs checked against the REST API per tick at most: bounds the cost of lost deliveries. */
export const RECONCILE_LIMIT = 20;

/** Pages of 100 of the App's deliveries read per tick at most (the listing is newest first). */
export const DELIVERY_PAGES_LIMIT = 5;

/** What fixes a job lookup that GitHub refuses: logged once per execution environment. */
export const JOB_LOOKUP_FIX = 'grant the GitHub App the repository permission "Actions: read" (a classic personal access token needs "repo")';

export interface IdleMetricReport {
  readonly ok: boolean;
  /** Counts per fleet name (absent when GitHub could not be read). */
  readonly counts?: Record<string, { idle: number; busy: number; offline: number; total: number }>;
  readonly error?: string;
  /** With a webhook: queued jobs found already started or over, and corrected. */
  readonly reconciled?: number;
  /** With a webhook: queued jobs GitHub would not show (403/404), still counted as waiting. */
  readonly unreadable?: number;
  /** With a webhook and a GitHub App: failed deliveries redelivered this tick. */
  readonly redelivered?: number;
  /** The capacity controller's evaluation per fleet (absent for a fleet it could not evaluate). */
  readonly capacity?: Record<string, Record<string, unknown>>;
}

type TickDeps = Pick<HandlerDeps, 'config' | 'github' | 'metrics' | 'logger' | 'jobs' | 'now' | 'autoScaling'>;

export interface IdleMetricOptions {
  /** Bounds of the redelivery of failed deliveries. @default DEFAULT_REDELIVERY_POLICY */
  readonly redelivery?: RedeliveryPolicy;
}

/**
 * The minute tick: lists the connection's runners once and publishes idle, busy and offline counts for
 * every fleet, then runs every fleet's capacity controller. With a webhook the controller needs no
 * GitHub data (waiting jobs come from the job table, busy instances from Auto Scaling), so it runs even
 * when GitHub cannot be read; without one it needs the idle count and is skipped then (a zero would
 * read as "every runner busy" and grow the fleet during an outage).
 */
export function createIdleMetricHandler(deps: TickDeps, options: IdleMetricOptions = {}): () => Promise<IdleMetricReport> {
  const now = deps.now ?? (() => new Date());
  const policy = options.redelivery ?? DEFAULT_REDELIVERY_POLICY;
  const lookup = { denialLogged: false };
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
      // Lost deliveries first: what a redelivery records this tick is counted by this tick's controllers.
      const redelivered = deps.config.webhook && deps.config.github.auth === 'app' ? await redeliverFailed(deps, now(), policy) : undefined;
      const demand = deps.config.webhook && deps.jobs ? await reconcileQueues(deps, now(), lookup) : undefined;
      const capacity: NonNullable<IdleMetricReport['capacity']> = {};
      for (const fleet of deps.config.fleets) {
        const evaluated = await controlTick(deps, fleet, runners, demand?.queued.get(fleet.name));
        if (evaluated) {
          capacity[fleet.name] = capacitySummary(evaluated);
        }
      }
      const webhook = { reconciled: demand?.reconciled, unreadable: demand?.unreadable, redelivered };
      deps.logger.info('Runner counts published', { runners: runners?.length, counts: report, ...webhook, capacity });
      return runners
        ? { ok: true, counts: report, ...webhook, capacity }
        : { ok: false, error, ...webhook, capacity };
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
 * first, a bounded number per tick) and returns each fleet's queued count as corrected. A job GitHub
 * will not show (403, or a 404 that may be one: `not-found`) is never taken for finished: it keeps
 * counting as waiting, is counted in `JobLookupDenied`, and the fix is logged once per execution
 * environment. A job queued longer than GitHub lets one wait is over without asking. A failure leaves
 * the counts undefined: each fleet's controller then reads its queue itself.
 */
async function reconcileQueues(
  deps: Pick<HandlerDeps, 'config' | 'github' | 'logger' | 'jobs' | 'metrics'>,
  at: Date,
  lookup: { denialLogged: boolean },
): Promise<{ queued: Map<string, number>; reconciled: number; unreadable: number }> {
  const jobs = deps.jobs!;
  const expiresAt = new Date(at.getTime() + JOB_RECORD_TTL_SECONDS * 1000);
  let reconciled = 0;
  const denied: JobRecord[] = [];
  const counted = new Map<string, number>();
  const done = (job: JobRecord) => {
    counted.set(job.fleet, (counted.get(job.fleet) ?? 1) - 1);
    reconciled++;
  };
  try {
    const queued: JobRecord[] = [];
    for (const fleet of deps.config.fleets) {
      const fleetJobs = await jobs.queuedJobs(fleet.name);
      counted.set(fleet.name, fleetJobs.length);
      queued.push(...fleetJobs);
    }
    const waiting: JobRecord[] = [];
    for (const job of queued) {
      if (pastQueueLimit(job.queuedAt, at)) {
        // GitHub has cancelled it by now.
        await jobs.putJob({ ...job, status: 'completed', updatedAt: at.toISOString() }, expiresAt);
        done(job);
      } else {
        waiting.push(job);
      }
    }
    for (const job of jobsToReconcile(waiting, at, RECONCILE_LIMIT)) {
      const status = await deps.github.getJobStatus(job.repository, job.jobId);
      if (status === 'not-found') {
        denied.push(job);
      } else if (status !== 'queued') {
        await jobs.putJob({ ...job, status, updatedAt: at.toISOString() }, expiresAt);
        done(job);
      }
    }
  } catch (error) {
    deps.logger.warn('Queued jobs could not be reconciled this time', describeError(error));
    reportDenied(deps, denied, lookup);
    return { queued: new Map(), reconciled, unreadable: denied.length };
  }
  reportDenied(deps, denied, lookup);
  return { queued: counted, reconciled, unreadable: denied.length };
}

function reportDenied(deps: Pick<HandlerDeps, 'logger' | 'metrics'>, denied: JobRecord[], lookup: { denialLogged: boolean }): void {
  for (const job of denied) {
    deps.metrics.add(MetricNames.JOB_LOOKUP_DENIED, job.fleet, 1);
  }
  if (denied.length > 0 && !lookup.denialLogged) {
    lookup.denialLogged = true;
    deps.logger.error(`GitHub would not show queued workflow jobs (403 or 404): they keep counting as waiting; ${JOB_LOOKUP_FIX}`, {
      jobs: denied.slice(0, 5).map((j) => ({ jobId: j.jobId, repository: j.repository })),
      count: denied.length,
    });
  }
}

/**
 * GitHub App webhooks: GitHub does not redeliver a failed delivery by itself, so a lost `queued` would
 * leave its job uncounted for good (with no idle runner, nothing else notices). Lists the App's recent
 * deliveries and redelivers the failed `workflow_job` ones, within `policy`. Returns how many were
 * redelivered, or undefined when the deliveries could not be listed (a warning, counted; the tick goes on).
 */
async function redeliverFailed(
  deps: Pick<HandlerDeps, 'github' | 'logger' | 'metrics'>,
  at: Date,
  policy: RedeliveryPolicy,
): Promise<number | undefined> {
  const { listAppHookDeliveries: list, redeliverAppHookDelivery: redeliver } = deps.github;
  if (!list || !redeliver) {
    return undefined;
  }
  let due;
  try {
    const deliveries = await list.call(deps.github, new Date(at.getTime() - policy.maxAgeSeconds * 1000), DELIVERY_PAGES_LIMIT);
    due = deliveriesToRedeliver(deliveries, at, policy);
  } catch (error) {
    deps.metrics.add(MetricNames.REDELIVERY_FAILURES, NO_FLEET, 1);
    deps.logger.warn('The GitHub App\'s webhook deliveries could not be listed: failed deliveries are not recovered this time', describeError(error));
    return undefined;
  }
  let redelivered = 0;
  for (const delivery of due) {
    try {
      await redeliver.call(deps.github, delivery.id);
      redelivered++;
      deps.logger.info('A failed webhook delivery was redelivered', {
        deliveryId: delivery.id, guid: delivery.guid, action: delivery.action, statusCode: delivery.statusCode,
      });
    } catch (error) {
      deps.metrics.add(MetricNames.REDELIVERY_FAILURES, NO_FLEET, 1);
      deps.logger.warn('A failed webhook delivery could not be redelivered', { deliveryId: delivery.id, guid: delivery.guid, ...describeError(error) });
    }
  }
  if (redelivered > 0) {
    deps.metrics.add(MetricNames.DELIVERIES_REDELIVERED, NO_FLEET, redelivered);
  }
  return redelivered;
}
