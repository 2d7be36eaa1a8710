import type { FleetRuntimeConfig } from '../../src/contract';
import type { FleetDirectoryPort, LoggerPort } from '../ports';
import { withDirectoryFleets } from './config';

/** How long a read of the fleet directory is served before it is read again. */
export const DIRECTORY_TTL_MS = 60_000;

/** How long a failed read of the directory is not retried (the fleets read last are served meanwhile). */
export const DIRECTORY_RETRY_MS = 10_000;

export interface ServedConfigOptions {
  readonly directory: FleetDirectoryPort;
  readonly logger: LoggerPort;
  readonly now?: () => number;
}

/**
 * The configuration a function serves: the one its environment carries, with the fleets of other stacks
 * added from the fleet directory when the configuration names one. The directory is read on first use
 * and again once its read is {@link DIRECTORY_TTL_MS} old, or sooner when the caller met a fleet it does
 * not know (`maxAgeMs`: a fleet deployed a moment ago). While the directory's parameters are unchanged,
 * the same object is returned, so that callers can rebuild what depends on it only when it changes. A
 * failed read is logged and the fleets read last are served (the environment's alone at first); a bad
 * parameter is logged and left out, the other fleets served.
 */
export interface ServedConfig {
  /** The configuration to serve now; reads the directory when its last read is older than `maxAgeMs`. */
  current(maxAgeMs?: number): Promise<FleetRuntimeConfig>;
}

export function createServedConfig(base: FleetRuntimeConfig, options: ServedConfigOptions): ServedConfig {
  const now = options.now ?? Date.now;
  const path = base.fleetDirectory;
  let served = base;
  let entriesJson: string | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  let failedAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<FleetRuntimeConfig> | undefined;

  const read = async (directory: string): Promise<FleetRuntimeConfig> => {
    let entries: Array<{ readonly name: string; readonly value: string }>;
    try {
      entries = await options.directory.readParameters(directory);
    } catch (error) {
      failedAt = now();
      options.logger.warn('Fleet directory unreadable: serving the fleets read last', {
        fleetDirectory: directory, error: (error as Error).message, fleets: served.fleets.length,
      });
      return served;
    }
    readAt = now();
    const sorted = [...entries].sort((a, b) => a.name.localeCompare(b.name));
    const json = JSON.stringify(sorted);
    if (json !== entriesJson) {
      const merged = withDirectoryFleets(base, sorted);
      for (const problem of merged.problems) {
        options.logger.error('Fleet directory: a parameter left out', { fleetDirectory: directory, problem });
      }
      entriesJson = json;
      served = merged.config;
      options.logger.info('Fleet directory read', { fleetDirectory: directory, fleets: served.fleets.length });
    }
    return served;
  };

  return {
    current: async (maxAgeMs = DIRECTORY_TTL_MS) => {
      if (path === undefined) {
        return base;
      }
      const at = now();
      if (at - readAt < maxAgeMs || at - failedAt < DIRECTORY_RETRY_MS) {
        return served;
      }
      // Concurrent callers (a webhook handling several requests) share one read.
      reading ??= read(path).finally(() => (reading = undefined));
      return reading;
    },
  };
}
