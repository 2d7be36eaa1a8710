import type { Context } from 'aws-lambda';
import type { FleetLogger } from './powertools';
import { unpackFleetConfig } from './runtime';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../src/contract';
import { parseFleetConfig } from '../core/config';
import { createServedConfig, ServedConfig } from '../core/served-config';
import type { FleetDirectoryPort, LoggerPort } from '../ports';
import { lazy } from './aws-sdk';
import { createFleetDirectory, createSsmClient } from './fleet-directory';

/**
 * What every entry point shares. Each function's entry (lambda-entry.ts for the three GitHub functions,
 * webhook-entry.ts, instance-agent-entry.ts) imports only the adapters it uses, so that its bundle holds
 * no other: the webhook and the instance agent carry no GitHub client.
 */

/** The part of the Lambda context the entry points use. */
export type InvocationContext = Pick<Context, 'invokedFunctionArn' | 'getRemainingTimeInMillis'> & Partial<Context>;

/** The configuration, parsed and validated; a bad one is logged and fails the cold start. */
export function loadConfig(env: Record<string, string | undefined>, logger: FleetLogger): FleetRuntimeConfig {
  try {
    return parseFleetConfig(unpackFleetConfig(env[ENV_FLEET_CONFIG]));
  } catch (error) {
    logger.error('Invalid fleet configuration: the function cannot start', { error: (error as Error).message });
    throw error;
  }
}

/**
 * How old a read of the fleet directory may be when a function meets a group or an instance role it
 * does not know (a fleet deployed a moment ago): read again then, rather than wait out the minute.
 */
export const UNKNOWN_FLEET_MAX_AGE_MS = 5_000;

/**
 * The configuration a function serves: the environment's, with the fleets of other stacks from the
 * fleet directory when it names one (see `ServedConfig`). The SSM client (and its package) is built on
 * the first read: without a directory, never.
 */
export function servedConfig(config: FleetRuntimeConfig, logger: LoggerPort, directory?: FleetDirectoryPort): ServedConfig {
  return createServedConfig(config, { directory: directory ?? createFleetDirectory(lazy(createSsmClient)), logger });
}
