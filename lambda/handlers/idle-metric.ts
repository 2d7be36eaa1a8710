import { describeError, HandlerDeps } from './deps';
import { MetricNames } from '../../src/contract';
import { countRunnersByFleet } from '../core/runner-counts';

export interface IdleMetricReport {
  readonly ok: boolean;
  /** Counts per fleet name (absent when GitHub could not be read). */
  readonly counts?: Record<string, { idle: number; busy: number; offline: number; total: number }>;
  readonly error?: string;
}

/**
 * Lists the connection's runners once and publishes idle, busy and offline counts for every fleet.
 * When GitHub cannot be read nothing is published: a zero would read as "no idle runner" and scale out
 * during an outage; the alarms treat missing data as not breaching.
 */
export function createIdleMetricHandler(deps: Pick<HandlerDeps, 'config' | 'github' | 'metrics' | 'logger'>): () => Promise<IdleMetricReport> {
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
      deps.logger.info('Runner counts published', { runners: runners.length, counts: report });
      return { ok: true, counts: report };
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
