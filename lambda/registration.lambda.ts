import { lambdaHandler } from './adapters/lambda-entry';
import { createSecretsPort } from './adapters/secrets';
import { createRegistrationHandler } from './handlers/registration';

/** EC2 Instance-launch Lifecycle Action events: registers a runner for an instance going into service. */
export const handler = lambdaHandler(createRegistrationHandler, { secretsPort: createSecretsPort });
