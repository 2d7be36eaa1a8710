import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { answerBody } from '../core/instance-agent';
import type { AgentAnswer, AgentHttpRequest } from '../core/instance-agent';
import type { WebhookAnswer, WebhookRequest } from '../core/webhook';

/**
 * A Lambda Function URL or API Gateway HTTP API (payload 2.0) event, as the webhook handler reads it:
 * the raw body GitHub signed (base64-decoded when the service encoded it), headers lower-cased.
 */
export function toWebhookRequest(event: Pick<APIGatewayProxyEventV2, 'headers' | 'body' | 'isBase64Encoded' | 'requestContext'>): WebhookRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    headers[name.toLowerCase()] = value;
  }
  const raw = event.body ?? '';
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    headers,
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
  };
}

/** The answer as JSON: GitHub shows it in the hook's recent deliveries. */
export function toHttpResponse(answer: WebhookAnswer): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: answer.message }),
  };
}

/** The parts of a Function URL event (payload 2.0, AWS_IAM auth) the instance agent reads. */
export interface AgentFunctionUrlEvent {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: {
    readonly http?: { readonly method?: string };
    readonly authorizer?: { readonly iam?: { readonly userArn?: string | null; readonly accountId?: string | null } };
  };
}

/**
 * A Function URL event as the instance agent reads it: the method, the body (base64-decoded when the
 * service encoded it) and the caller's identity that Lambda verified (`requestContext.authorizer.iam`).
 */
export function toAgentRequest(event: AgentFunctionUrlEvent): AgentHttpRequest {
  const raw = event.body ?? '';
  const iam = event.requestContext?.authorizer?.iam;
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
    caller: iam ? { userArn: iam.userArn, accountId: iam.accountId } : undefined,
  };
}

/** The agent's answer as JSON: `{ ok, message, ... }`. */
export function toAgentResponse(answer: AgentAnswer): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(answerBody(answer)),
  };
}
