import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createAutoScalingClient, createAutoScalingPort } from './auto-scaling';
import { lazy } from './aws-sdk';
import { InvocationContext, loadConfig, servedConfig, UNKNOWN_FLEET_MAX_AGE_MS } from './entry-common';
import { createGitHubPort, GitHubPortOptions } from './github';
import { createLogger, createMetrics, FleetLogger } from './powertools';
import { environmentFromContext } from './runtime';
import { createSecretsManagerClient, readSecretString } from './secrets';
import type { FleetRuntimeConfig } from '../../src/contract';
import type { HandlerDeps } from '../handlers/deps';
import type { FleetDirectoryPort, JobStorePort, SecretsPort } from '../ports';

export type { InvocationContext } from './entry-common';

/** Everything but the environment, which needs the first invocation's context (the account id). */
export type ColdStartDeps = Omit<HandlerDeps, 'environment'>;

/** The secrets port of a function that has none: it never writes or deletes per-instance secrets. */
const NO_SECRETS: SecretsPort = new Proxy({} as SecretsPort, {
  get: (_target, name) => () => Promise.reject(new Error(`this function has no per-instance secrets port (${String(name)})`)),
});

/** Time kept back from GitHub calls for the handler's own AWS calls (secret, lifecycle action). */
const AWS_RESERVE_MS = 5000;

/** Timings of the GitHub client that may be changed (tests use shorter ones); the defaults suit production. */
export type GitHubTuning = Pick<GitHubPortOptions, 'retries' | 'retryBaseMs' | 'requestTimeoutMs' | 'throttleRetryLimit' | 'maxRetryAfterSeconds'>;

export interface ColdStartOptions {
  /** @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** The invocation in progress (its remaining time bounds GitHub calls). */
  readonly invocation?: { readonly current?: InvocationContext };
  readonly logger?: FleetLogger;
  readonly github?: GitHubTuning;
  /**
   * The job table's port, for a function that reads the table (the idle-metric tick: `jobTable` of
   * job-store.ts); called at cold start only when the configuration has a webhook. The others leave it
   * out, and their bundles hold no job store and never load DynamoDB.
   * @default - no job store
   */
  readonly jobStore?: (tableName: string) => JobStorePort;
  /**
   * The per-instance secrets' port, for a function that writes or deletes them (registration,
   * deregistration: `createSecretsPort` of secrets.ts). The idle-metric function leaves it out, and its
   * bundle holds no such code.
   * @default - a port that refuses every call
   */
  readonly secretsPort?: (client: () => SecretsManagerClient) => SecretsPort;
  /** @default - the fleet directory in SSM Parameter Store, when the configuration names one */
  readonly directory?: FleetDirectoryPort;
}

/**
 * Builds what the GitHub functions (registration, deregistration, idle-metric) need, once per execution
 * environment: the configuration (parsed and validated, so a bad one fails the cold start loudly), the
 * ports, the GitHub port (with it the cached App token), the logger and the metrics. The AWS SDK clients
 * (and their packages) are built on their first call, the GitHub client on the first GitHub call: a
 * function loads only what it uses, when it uses it. The job table's port exists only with a webhook,
 * and for a function that asks for it (`jobStore`).
 */
export function coldStart(options: ColdStartOptions = {}): ColdStartDeps {
  const logger = options.logger ?? createLogger();
  const config = loadConfig(options.env ?? process.env, logger);
  const secretsClient = lazy(createSecretsManagerClient);
  const github = createGitHubPort(config.github, {
    ...options.github,
    readCredentials: () => readSecretString(secretsClient(), config.github.secretArn),
    logger,
    remainingTimeMs: () => options.invocation?.current?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY,
    reserveMs: AWS_RESERVE_MS,
  });
  return {
    config,
    github,
    autoScaling: createAutoScalingPort(lazy(createAutoScalingClient)),
    secrets: options.secretsPort ? options.secretsPort(secretsClient) : NO_SECRETS,
    metrics: createMetrics(),
    logger,
    jobs: config.webhook && options.jobStore ? options.jobStore(config.webhook.tableName) : undefined,
  };
}

/**
 * A Lambda handler around a handler factory. Call it at module level: the dependencies are built at
 * once (cold start); the handler itself is built on the first invocation, when the function's ARN (and
 * so its account and partition) is known, and reused by every later one.
 */
export function lambdaHandler<E, R>(
  build: (deps: HandlerDeps) => (event: E) => Promise<R>,
  options: Pick<ColdStartOptions, 'env' | 'github' | 'jobStore' | 'directory' | 'secretsPort'> = {},
): (event: E, context: InvocationContext) => Promise<R> {
  const invocation: { current?: InvocationContext } = {};
  const logger = createLogger();
  const deps = coldStart({ ...options, invocation, logger });
  const served = servedConfig(deps.config, logger, options.directory);
  let handler: ((event: E) => Promise<R>) | undefined;
  let builtFor: FleetRuntimeConfig | undefined;
  return async (event, context) => {
    invocation.current = context;
    if (context.awsRequestId && context.functionName) {
      logger.powertools.addContext(context as Context); // request id and cold-start flag on every line
    }
    try {
      // The fleets of other stacks (the fleet directory) are read at most once a minute, sooner for an
      // event of a group no fleet served has; the handler is rebuilt only when they changed.
      let config = await served.current();
      if (!knowsGroupOf(event, config)) {
        config = await served.current(UNKNOWN_FLEET_MAX_AGE_MS);
      }
      if (!handler || config !== builtFor) {
        handler = build({ ...deps, config, environment: environmentFromContext(context) });
        builtFor = config;
      }
      return await handler(event);
    } finally {
      invocation.current = undefined;
      await deps.metrics.flush(); // anything a handler added but did not flush
    }
  };
}

/** Whether a lifecycle event's group (if the event names one) is a fleet `config` serves. */
function knowsGroupOf(event: unknown, config: FleetRuntimeConfig): boolean {
  const group = (event as { detail?: { AutoScalingGroupName?: unknown } } | undefined)?.detail?.AutoScalingGroupName;
  return typeof group !== 'string' || config.fleets.some((f) => f.autoScalingGroupName === group);
}
