import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
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
