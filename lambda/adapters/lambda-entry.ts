import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createAutoScalingClient, createAutoScalingPort } from './auto-scaling';
import { createGitHubPort, GitHubPortOptions } from './github';
import { AgentFunctionUrlEvent, toAgentRequest, toAgentResponse, toHttpResponse, toWebhookRequest } from './http';
import { createDynamoDbClient, createJobStore } from './job-store';
import { createLogger, createMetrics, FleetLogger } from './powertools';
import { environmentFromContext, unpackFleetConfig } from './runtime';
import { createSecretsManagerClient, createSecretsPort, readSecretString } from './secrets';
import { createSignatureVerifier } from './webhook-signature';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig } from '../../src/contract';
import { parseFleetConfig } from '../core/config';
import type { HandlerDeps } from '../handlers/deps';
import { createInstanceAgentHandler } from '../handlers/instance-agent';
import { createWebhookHandler } from '../handlers/webhook';

/** Everything but the environment, which needs the first invocation's context (the account id). */
export type ColdStartDeps = Omit<HandlerDeps, 'environment'>;

/** The part of the Lambda context the entry points use. */
export type InvocationContext = Pick<Context, 'invokedFunctionArn' | 'getRemainingTimeInMillis'> & Partial<Context>;

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
}

/**
 * Builds what every function needs, once per execution environment: the configuration (parsed and
 * validated, so a bad one fails the cold start loudly), the SDK clients, the GitHub port (with it the
 * cached App token), the logger and the metrics.
 */
export function coldStart(options: ColdStartOptions = {}): ColdStartDeps {
  const logger = options.logger ?? createLogger();
  const config = loadConfig(options.env ?? process.env, logger);
  const secretsClient = createSecretsManagerClient();
  const github = createGitHubPort(config.github, {
    ...options.github,
    readCredentials: () => readSecretString(secretsClient, config.github.secretArn),
    logger,
    remainingTimeMs: () => options.invocation?.current?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY,
    reserveMs: AWS_RESERVE_MS,
  });
  return {
    config,
    github,
    autoScaling: createAutoScalingPort(createAutoScalingClient()),
    secrets: createSecretsPort(secretsClient),
    metrics: createMetrics(),
    logger,
    jobs: config.webhook ? createJobStore(createDynamoDbClient(), config.webhook.tableName) : undefined,
  };
}

/** The configuration, parsed and validated; a bad one is logged and fails the cold start. */
function loadConfig(env: Record<string, string | undefined>, logger: FleetLogger): FleetRuntimeConfig {
  try {
    return parseFleetConfig(unpackFleetConfig(env[ENV_FLEET_CONFIG]));
  } catch (error) {
    logger.error('Invalid fleet configuration: the function cannot start', { error: (error as Error).message });
    throw error;
  }
}

/**
 * The webhook endpoint's Lambda handler (a Function URL or an HTTP API, payload 2.0): built at cold
 * start, with the webhook secret read on the first delivery and cached.
 */
export function webhookLambdaHandler(
  options: Pick<ColdStartOptions, 'env'> & { readonly now?: () => Date } = {},
): (event: APIGatewayProxyEventV2, context?: Partial<Context>) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = createLogger();
  const config = loadConfig(options.env ?? process.env, logger);
  const webhook = config.webhook;
  if (!webhook) {
    const message = 'RUNNER_FLEET_CONFIG has no webhook section: this function runs only for a control plane with a webhook';
    logger.error(message);
    throw new Error(message);
  }
  const secretsClient = createSecretsManagerClient();
  const handle = createWebhookHandler({
    config,
    jobs: createJobStore(createDynamoDbClient(), webhook.tableName),
    autoScaling: createAutoScalingPort(createAutoScalingClient()),
    verifier: createSignatureVerifier({ readSecret: () => readSecretString(secretsClient, webhook.secretArn) }),
    metrics: createMetrics(),
    logger,
    now: options.now,
  });
  return async (event, context) => {
    if (context?.awsRequestId && context.functionName) {
      logger.powertools.addContext(context as Context);
    }
    return toHttpResponse(await handle(toWebhookRequest(event)));
  };
}

/**
 * The instance agent's Lambda handler (a Function URL with AWS_IAM auth, payload 2.0): the configuration
 * and the Auto Scaling client at cold start; the handler on the first invocation, when the function's ARN
 * (and so its account and partition, which callers must match) is known. No GitHub client, no secret.
 */
export function instanceAgentLambdaHandler(
  options: Pick<ColdStartOptions, 'env'> = {},
): (event: AgentFunctionUrlEvent, context: InvocationContext) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = createLogger();
  const config = loadConfig(options.env ?? process.env, logger);
  const autoScaling = createAutoScalingPort(createAutoScalingClient());
  let handle: ReturnType<typeof createInstanceAgentHandler> | undefined;
  return async (event, context) => {
    if (context.awsRequestId && context.functionName) {
      logger.powertools.addContext(context as Context);
    }
    handle ??= createInstanceAgentHandler({ config, autoScaling, logger, environment: environmentFromContext(context) });
    return toAgentResponse(await handle(toAgentRequest(event)));
  };
}

/**
 * A Lambda handler around a handler factory. Call it at module level: the dependencies are built at
 * once (cold start); the handler itself is built on the first invocation, when the function's ARN (and
 * so its account and partition) is known, and reused by every later one.
 */
export function lambdaHandler<E, R>(
  build: (deps: HandlerDeps) => (event: E) => Promise<R>,
  options: Pick<ColdStartOptions, 'env' | 'github'> = {},
): (event: E, context: InvocationContext) => Promise<R> {
  const invocation: { current?: InvocationContext } = {};
  const logger = createLogger();
  const deps = coldStart({ ...options, invocation, logger });
  let handler: ((event: E) => Promise<R>) | undefined;
  return async (event, context) => {
    invocation.current = context;
    if (context.awsRequestId && context.functionName) {
      logger.powertools.addContext(context as Context); // request id and cold-start flag on every line
    }
    try {
      handler ??= build({ ...deps, environment: environmentFromContext(context) });
      return await handler(event);
    } finally {
      invocation.current = undefined;
      await deps.metrics.flush(); // anything a handler added but did not flush
    }
  };
}
