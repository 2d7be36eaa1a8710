import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ENV_FLEET_CONFIG } from '../../src/contract';
import { parseFleetConfig } from '../core/config';
import type { HandlerDeps } from '../handlers/deps';
import { createAutoScalingPort } from './auto-scaling';
import { createGitHubPort } from './github';
import { createLogger, createMetrics } from './powertools';
import { environmentFromContext } from './runtime';
import { createSecretsPort, readSecretString } from './secrets';

/**
 * Builds the dependencies every function shares, once per cold start. The configuration is parsed and
 * validated here: a bad one fails the cold start loudly.
 */
export function coldStart(): Omit<HandlerDeps, 'environment'> {
  const config = parseFleetConfig(process.env[ENV_FLEET_CONFIG]);
  const logger = createLogger();
  const metrics = createMetrics();
  const secretsClient = new SecretsManagerClient({});
  const github = createGitHubPort(config.github, {
    readCredentials: () => readSecretString(secretsClient, config.github.secretArn),
    logger,
  });
  return {
    config,
    github,
    autoScaling: createAutoScalingPort(new AutoScalingClient({})),
    secrets: createSecretsPort(secretsClient),
    metrics,
    logger,
  };
}

/** Creates the handler on the first invocation, when the function's ARN (and so its account) is known. */
export function lazyHandler<E, R>(
  build: (deps: HandlerDeps) => (event: E) => Promise<R>,
  shared: Omit<HandlerDeps, 'environment'> = coldStart(),
): (event: E, context: { invokedFunctionArn: string; awsRequestId?: string }) => Promise<R> {
  let handler: ((event: E) => Promise<R>) | undefined;
  return async (event, context) => {
    handler ??= build({ ...shared, environment: environmentFromContext(context) });
    return handler(event);
  };
}
