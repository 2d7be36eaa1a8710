import { jobTable } from './adapters/job-store';
import { lambdaHandler } from './adapters/lambda-entry';
import { createIdleMetricHandler } from './handlers/idle-metric';

/**
 * Every minute: idle, busy and offline runners per fleet, as CloudWatch metrics (EMF). With a webhook, it
 * also reads the job table (queued jobs, reconciliation): the only GitHub function that does.
 */
export const handler = lambdaHandler((deps) => {
  const publish = createIdleMetricHandler(deps);
  return (_event: unknown) => publish();
}, { jobStore: jobTable });
