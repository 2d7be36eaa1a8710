import { lambdaHandler } from './adapters/lambda-entry';
import { createIdleMetricHandler } from './handlers/idle-metric';

/** Every minute: idle, busy and offline runners per fleet, as CloudWatch metrics (EMF). */
export const handler = lambdaHandler((deps) => {
  const publish = createIdleMetricHandler(deps);
  return (_event: unknown) => publish();
});
