import type { SSMClient } from '@aws-sdk/client-ssm';
import { ClientSource, clientOf, ssmSdk } from './aws-sdk';
import type { FleetDirectoryPort } from '../ports';

/** The SSM client for the fleet directory: short timeouts, like the functions' other clients. */
export function createSsmClient(): SSMClient {
  const { SSMClient: Client } = ssmSdk();
  return new Client({ maxAttempts: 4, requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 } });
}

/**
 * The fleet directory through SSM Parameter Store: GetParametersByPath, one level (each fleet's parameter
 * is `<path><fleet name>`), every page. Given `lazy(createSsmClient)`, the client (and the SDK package) is
 * made on the first read: a function whose control plane has no fleet directory never loads it.
 */
export function createFleetDirectory(source: ClientSource<SSMClient>): FleetDirectoryPort {
  const client = clientOf(source);
  return {
    readParameters: async (path) => {
      const { GetParametersByPathCommand } = ssmSdk();
      const parameters: Array<{ name: string; value: string }> = [];
      let nextToken: string | undefined;
      do {
        const page = await client().send(new GetParametersByPathCommand({ Path: path.replace(/\/+$/, ''), Recursive: false, MaxResults: 10, NextToken: nextToken }));
        for (const parameter of page.Parameters ?? []) {
          if (parameter.Name && parameter.Value !== undefined) {
            parameters.push({ name: parameter.Name, value: parameter.Value });
          }
        }
        nextToken = page.NextToken;
      } while (nextToken);
      return parameters;
    },
  };
}
