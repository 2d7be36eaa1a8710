import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DIMENSION_FLEET, METRIC_NAMESPACE } from '../../src/contract';
import type { LoggerPort, MetricsPort } from '../ports';

export const SERVICE_NAME = 'github-runner-fleet';

/** Structured JSON logs (Powertools Logger). */
export function createLogger(logger: Logger = new Logger({ serviceName: SERVICE_NAME })): LoggerPort & { readonly powertools: Logger } {
  return {
    powertools: logger,
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  };
}

/**
 * Metrics as Embedded Metric Format log lines (no PutMetricData calls, no extra permission). Each value
 * goes out as its own single metric with exactly one dimension, `Fleet`, which is what the alarms query.
 */
export function createMetrics(metrics: Metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: SERVICE_NAME })): MetricsPort {
  metrics.clearDefaultDimensions();
  return {
    add(name, fleet, value) {
      const single = metrics.singleMetric();
      single.clearDefaultDimensions();
      single.addDimension(DIMENSION_FLEET, fleet);
      single.addMetric(name, MetricUnit.Count, value);
    },
    flush() {
      // Single metrics are written as they are added: nothing is buffered.
    },
  };
}
