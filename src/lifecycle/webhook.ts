import { Duration, RemovalPolicy, Size, Token } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { JobTableSchema } from '../contract/job-table';
import { WebhookFunction } from '../generated/webhook-function';
import { acknowledge } from '../nag';
import { Mistakes } from '../validation';

/** How GitHub reaches the webhook function. */
export enum WebhookEndpointType {
  /** A Lambda Function URL (no extra cost, no extra resource). */
  FUNCTION_URL = 'function-url',
  /** An API Gateway HTTP API with one route, `POST /webhook` (custom domains, throttling, access logs). */
  HTTP_API = 'http-api',
}

/** The `workflow_job` webhook: the demand signal that scales fleets within seconds, and from zero. */
export interface RunnerWebhookOptions {
  /**
   * The secret GitHub signs deliveries with: its value is the webhook secret, as a string or as JSON
   * `{ "secret": "..." }`. Give the same value to GitHub (App settings, or the organization's webhook).
   *
   * @default - a new secret with a generated 40-character value
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * How GitHub reaches the function.
   *
   * @default WebhookEndpointType.FUNCTION_URL
   */
  readonly endpoint?: WebhookEndpointType;

  /**
   * Larger deliveries are refused with 413 before anything else is done. `workflow_job` deliveries are a
   * few tens of kilobytes.
   *
   * @default Size.kibibytes(256)
   */
  readonly maxBodySize?: Size;

  /**
   * How many deliveries the webhook function takes at once, at most: reserved for it, so that a flood of
   * deliveries (the function URL is public) can never take the concurrency the registration and
   * deregistration functions need to complete lifecycle actions, and the rest of the account cannot
   * starve the webhook. A delivery takes a fraction of a second: 20 take a burst of hundreds of queued
   * jobs in a few seconds. A delivery beyond it is answered 429 and shows as failed in GitHub's delivery
   * log. Reserved concurrency comes out of the account's Lambda concurrency quota, of which at least 100
   * must stay unreserved: raise the quota first in an account whose quota is low (new accounts may have 10).
   *
   * @default 20
   */
  readonly reservedConcurrency?: number;
}

/** The resolved webhook: what the control plane wires into its functions. */
export interface RunnerWebhookResources {
  readonly table: dynamodb.Table;
  readonly secret: secretsmanager.ISecret;
  readonly function: lambda.Function;
  readonly url: string;
  readonly maxBodyBytes: number;
}

const MAX_BODY_BYTES_LIMIT = 6 * 1024 * 1024;

/** The webhook function's reserved concurrency when `reservedConcurrency` is not given. */
export const WEBHOOK_RESERVED_CONCURRENCY = 20;

/**
 * The most concurrency one function can reserve in an account with the default quota of 1,000 (Lambda
 * keeps 100 unreserved): a larger value is almost certainly a mistake.
 */
const MAX_RESERVED_CONCURRENCY = 900;

/**
 * The job table's calls, and no more: deliveries are put under a condition, jobs updated under a
 * condition, the queued-jobs index queried. No read of a single item, no scan, no delete, no other index.
 */
export function grantJobTable(table: dynamodb.ITable, fn: lambda.IFunction): void {
  fn.addToRolePolicy(new iam.PolicyStatement({
    sid: 'UseJobTable',
    actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    resources: [table.tableArn, `${table.tableArn}/index/${JobTableSchema.queuedIndex.indexName}`],
  }));
}

/** The default body limit: 256 KiB. */
const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** `maxBodySize` in bytes; a mistake (naming the property, the value and the fix) is recorded and the default used. */
export function webhookMaxBodyBytes(options: RunnerWebhookOptions, mistakes: Mistakes): number {
  const size = options.maxBodySize ?? Size.bytes(DEFAULT_MAX_BODY_BYTES);
  // A size made of a token cannot be converted to bytes unless it was given in bytes.
  const bytes = size.isUnresolved() ? undefined : size.toBytes();
  if (bytes === undefined || Token.isUnresolved(bytes)) {
    mistakes.add('webhook.maxBodySize must be a literal size, e.g. Size.kibibytes(256)');
    return DEFAULT_MAX_BODY_BYTES;
  }
  return mistakes.valueOr(bytes, Number.isInteger(bytes) && bytes >= 1024 && bytes <= MAX_BODY_BYTES_LIMIT,
    () => `webhook.maxBodySize (${bytes} bytes) must be between 1 KiB and 6 MiB (Lambda's payload limit): use e.g. Size.kibibytes(256)`,
    DEFAULT_MAX_BODY_BYTES);
}

/** `reservedConcurrency`; a mistake (naming the property, the value and the fix) is recorded and the default used. */
export function webhookReservedConcurrency(options: RunnerWebhookOptions, mistakes: Mistakes): number {
  const value = options.reservedConcurrency ?? WEBHOOK_RESERVED_CONCURRENCY;
  if (Token.isUnresolved(value)) {
    return value;
  }
  return mistakes.valueOr(value, Number.isInteger(value) && value >= 1 && value <= MAX_RESERVED_CONCURRENCY,
    () => `webhook.reservedConcurrency (${value}) must be a whole number from 1 to ${MAX_RESERVED_CONCURRENCY}: `
      + `use e.g. ${WEBHOOK_RESERVED_CONCURRENCY} (0 would refuse every delivery; Lambda keeps 100 of the account's concurrency unreserved)`,
    WEBHOOK_RESERVED_CONCURRENCY);
}

/**
 * Creates the webhook's table, secret, function and endpoint. The function gets its configuration later
 * (the control plane adds the environment variable once all fleets are known). Mistakes in the options
 * are recorded in `mistakes` (the control plane's, reported at synth).
 */
export function createWebhook(
  scope: Construct, options: RunnerWebhookOptions, environment: Record<string, string>, mistakes: Mistakes,
): RunnerWebhookResources {
  const maxBodyBytes = webhookMaxBodyBytes(options, mistakes);
  const reservedConcurrency = webhookReservedConcurrency(options, mistakes);
  const table = new dynamodb.Table(scope, 'WebhookJobs', {
    partitionKey: { name: JobTableSchema.partitionKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: JobTableSchema.timeToLiveAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // Deliveries and job states for at most a day: nothing to keep when the stack goes.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  table.addGlobalSecondaryIndex({
    indexName: JobTableSchema.queuedIndex.indexName,
    partitionKey: { name: JobTableSchema.queuedIndex.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: JobTableSchema.queuedIndex.sortKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.ALL,
  });

  const secret = options.secret ?? new secretsmanager.Secret(scope, 'WebhookSecret', {
    description: 'GitHub webhook secret for the runner fleets (give the same value to GitHub)',
    generateSecretString: { passwordLength: 40, excludePunctuation: true },
  });
  if (!options.secret) {
    acknowledge(secret, [['AwsSolutions-SMG4', 'The webhook secret is shared with GitHub, which cannot follow an automatic rotation; rotate it in both places by hand.']]);
  }

  const fn = new WebhookFunction(scope, 'WebhookFunction', {
    description: 'Webhook: workflow_job deliveries, the demand signal of the runner fleets',
    // GitHub waits 10 seconds for an answer.
    timeout: Duration.seconds(9),
    memorySize: 256,
    architecture: lambda.Architecture.ARM_64,
    environment,
    reservedConcurrentExecutions: reservedConcurrency,
    logGroup: new logs.LogGroup(scope, 'WebhookLogs', { retention: logs.RetentionDays.ONE_MONTH }),
  });
  grantJobTable(table, fn);
  secret.grantRead(fn);

  let url: string;
  if ((options.endpoint ?? WebhookEndpointType.FUNCTION_URL) === WebhookEndpointType.HTTP_API) {
    const api = new apigwv2.HttpApi(scope, 'WebhookApi', {
      description: 'GitHub workflow_job webhook of the runner fleets',
      createDefaultStage: true,
    });
    api.addRoutes({ path: '/webhook', methods: [apigwv2.HttpMethod.POST], integration: new integrations.HttpLambdaIntegration('Webhook', fn) });
    url = `${api.apiEndpoint}/webhook`;
    acknowledge(api, [
      ['AwsSolutions-APIG1', 'Every delivery is logged by the webhook function itself (status, delivery, job); access logs would repeat it.'],
      ['AwsSolutions-APIG4', 'GitHub cannot send AWS credentials or tokens: each delivery is authenticated by its HMAC signature, checked before anything else.'],
    ]);
  } else {
    // GitHub cannot sign requests with AWS credentials; the function checks the HMAC signature first.
    url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE }).url;
  }
  return { table, secret, function: fn, url, maxBodyBytes };
}
