import { webhookLambdaHandler } from './adapters/webhook-entry';

/** GitHub `workflow_job` deliveries (Function URL or HTTP API): the demand signal of every fleet. */
export const handler = webhookLambdaHandler();
