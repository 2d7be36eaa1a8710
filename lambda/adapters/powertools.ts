import { Logger } from '@aws-lambda-powertools/logger';
import { MetricResolution, Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DIMENSION_FLEET, METRIC_NAMESPACE } from '../../src/contract';
import type { LoggerPort, MetricsPort } from '../ports';

export const SERVICE_NAME = 'github-runner-fleet';

/** Attribute names whose values are secrets wherever they appear (compared case-insensitively). */
const SECRET_KEYS = new Set([
  'token', 'registrationtoken', 'jitconfig', 'encodedjitconfig', 'encoded_jit_config', 'privatekey', 'private_key',
  'authorization', 'secretstring', 'password', 'credentials',
]);
/** Secrets recognisable by their shape: GitHub tokens and PEM private keys. */
const SECRET_PATTERNS = [
  /\bgh[pousr]_[A-Za-z0-9]{16,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{16,}\b/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];
export const REDACTED = '[REDACTED]';
const MAX_DEPTH = 6;

/** A LoggerPort whose Powertools logger can take the invocation's context. */
export interface FleetLogger extends LoggerPort {
  readonly powertools: Logger;
}

/**
 * Structured JSON logs through Powertools Logger. Defence in depth: attributes named like secrets and
 * strings shaped like GitHub tokens or private keys are replaced by `[REDACTED]` before they are written.
 */
export function createLogger(logger: Logger = new Logger({ serviceName: SERVICE_NAME })): FleetLogger {
  return {
    powertools: logger,
    info: (message, attributes) => logger.info(redactString(message), redactAttributes(attributes)),
    warn: (message, attributes) => logger.warn(redactString(message), redactAttributes(attributes)),
    error: (message, attributes) => logger.error(redactString(message), redactAttributes(attributes)),
  };
}

/** A copy of `attributes` without secrets. */
export function redactAttributes(attributes: Record<string, unknown> | undefined): Record<string, unknown> {
  return attributes ? redact(attributes, 0) as Record<string, unknown> : {};
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    return redactString(value);
  }
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message) };
  }
  if (typeof value !== 'object' || value === null || value instanceof Date) {
    return value;
  }
  if (depth >= MAX_DEPTH) {
    return '[too deep]';
  }
  if (Array.isArray(value)) {
    return value.map((v) => redact(v, depth + 1));
  }
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    copy[key] = SECRET_KEYS.has(key.toLowerCase()) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1);
  }
  return copy;
}

function redactString(text: string): string {
  return SECRET_PATTERNS.reduce((t, pattern) => t.replace(pattern, REDACTED), text);
}

/**
 * Metrics as Embedded Metric Format log lines (no PutMetricData calls, no extra permission), namespace
 * {@link METRIC_NAMESPACE}, unit Count. Each fleet has its own Powertools `Metrics` whose only dimension
 * is `Fleet` (no `service` dimension: the alarms query exactly `Fleet`), so fleets never mix. `flush()`
 * writes one line per fleet that has values.
 */
export function createMetrics(options: { readonly namespace?: string } = {}): MetricsPort {
  const fleets = new Map<string, Metrics>();
  const pending = new Set<string>();
  const forFleet = (fleet: string): Metrics => {
    let metrics = fleets.get(fleet);
    if (!metrics) {
      metrics = new Metrics({ namespace: options.namespace ?? METRIC_NAMESPACE, serviceName: SERVICE_NAME });
      metrics.clearDefaultDimensions();
      metrics.setDefaultDimensions({ [DIMENSION_FLEET]: fleet });
      fleets.set(fleet, metrics);
    }
    return metrics;
  };
  return {
    add(name, fleet, value, metricOptions = {}) {
      const unit = metricOptions.unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.Count;
      forFleet(fleet).addMetric(name, unit, value, metricOptions.highResolution ? MetricResolution.High : MetricResolution.Standard);
      pending.add(fleet);
    },
    flush() {
      for (const fleet of pending) {
        fleets.get(fleet)?.publishStoredMetrics();
      }
      pending.clear();
    },
  };
}
