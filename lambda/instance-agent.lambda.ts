import { instanceAgentLambdaHandler } from './adapters/instance-agent-entry';

/** A runner instance's own Auto Scaling calls (Function URL, AWS_IAM): acts on the verified caller's instance only. */
export const handler = instanceAgentLambdaHandler();
