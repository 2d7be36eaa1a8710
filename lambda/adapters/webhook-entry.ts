import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createAutoScalingClient, createAutoScalingPort } from './auto-scaling';
import { lazy } from './aws-sdk';
import { loadConfig, servedConfig } from './entry-common';
import { toHttpResponse, toWebhookRequest } from './http';
import { jobTable } from './job-store';
import { createLogger, createMetrics } from './powertools';
import { createSecretsManagerClient, readSecretString } from './secrets';
import { createSignatureVerifier } from './webhook-signature';
import type { FleetRuntimeConfig } from '../../src/contract';
import { createWebhookHandler } from '../handlers/webhook';
import type { FleetDirectoryPort } from '../ports';

/**
 * The webhook endpoint's Lambda handler (a Function URL or an HTTP API, payload 2.0): built at cold
 * start, with the webhook secret read on the first delivery and cached. Its AWS SDK clients (Secrets
 * Manager, DynamoDB, Auto Scaling) are loaded and built on their first call. No GitHub client.
 */
export function webhookLambdaHandler(
  options: { readonly env?: Record<string, string | undefined>; readonly now?: () => Date; readonly directory?: FleetDirectoryPort } = {},
): (event: APIGatewayProxyEventV2, context?: Partial<Context>) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = createLogger();
  const config = loadConfig(options.env ?? process.env, logger);
  const webhook = config.webhook;
  if (!webhook) {
    const message = 'RUNNER_FLEET_CONFIG has no webhook section: this function runs only for a control plane with a webhook';
    logger.error(message);
    throw new Error(message);
  }
  const secretsClient = lazy(createSecretsManagerClient);
  const deps = {
    jobs: jobTable(webhook.tableName),
    autoScaling: createAutoScalingPort(lazy(createAutoScalingClient)),
    verifier: createSignatureVerifier({ readSecret: () => readSecretString(secretsClient(), webhook.secretArn) }),
    metrics: createMetrics(),
    logger,
    now: options.now,
  };
  // The fleets of other stacks (the fleet directory) are read at most once a minute; the handler is
  // rebuilt only when they changed.
  const served = servedConfig(config, logger, options.directory);
  let handle: ReturnType<typeof createWebhookHandler> | undefined;
  let builtFor: FleetRuntimeConfig | undefined;
  return async (event, context) => {
    if (context?.awsRequestId && context.functionName) {
      logger.powertools.addContext(context as Context);
    }
    const current = await served.current();
    if (!handle || current !== builtFor) {
      handle = createWebhookHandler({ ...deps, config: current });
      builtFor = current;
    }
    return toHttpResponse(await handle(toWebhookRequest(event)));
  };
}
