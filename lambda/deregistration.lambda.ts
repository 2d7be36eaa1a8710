import { lambdaHandler } from './adapters/lambda-entry';
import { createSecretsPort } from './adapters/secrets';
import { createDeregistrationHandler } from './handlers/deregistration';

/** EC2 Instance-terminate Lifecycle Action events, and the scheduled sweep of orphans. */
export const handler = lambdaHandler(createDeregistrationHandler, { secretsPort: createSecretsPort });
