import { lazyHandler } from './adapters/wiring';
import { createIdleMetricHandler } from './handlers/idle-metric';

/** Every minute: idle, busy and offline runners per fleet, as CloudWatch metrics. */
export const handler = lazyHandler((deps) => {
  const publish = createIdleMetricHandler(deps);
  return async (_event: unknown) => publish();
});
