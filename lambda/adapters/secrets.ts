import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { TagKeys } from '../../src/contract';
import type { InstanceSecretInfo, InstanceSecretWrite, SecretsPort } from '../ports';

export function createSecretsPort(client: SecretsManagerClient): SecretsPort {
  return {
    async putInstanceSecret(secret: InstanceSecretWrite): Promise<void> {
      const tags = [
        { Key: TagKeys.INSTANCE_ARN, Value: secret.instanceArn },
        { Key: TagKeys.INSTANCE_ID, Value: secret.instanceId },
      ];
      try {
        await client.send(new CreateSecretCommand({
          Name: secret.name,
          SecretString: secret.value,
          Description: `GitHub runner registration for ${secret.instanceId}; readable only by that instance`,
          Tags: tags,
        }));
      } catch (error) {
        if ((error as { name?: string }).name !== 'ResourceExistsException') {
          throw error;
        }
        // A redelivered event, or a warm instance coming back into service: replace the value.
        await client.send(new PutSecretValueCommand({ SecretId: secret.name, SecretString: secret.value }));
        await client.send(new TagResourceCommand({ SecretId: secret.name, Tags: tags }));
      }
    },
    async deleteInstanceSecret(name: string): Promise<boolean> {
      try {
        await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') {
          return false;
        }
        throw error;
      }
    },
    async listInstanceSecrets(prefix: string): Promise<InstanceSecretInfo[]> {
      const found: InstanceSecretInfo[] = [];
      let nextToken: string | undefined;
      do {
        const page = await client.send(new ListSecretsCommand({
          Filters: [{ Key: 'name', Values: [prefix] }],
          MaxResults: 100,
          NextToken: nextToken,
        }));
        for (const s of page.SecretList ?? []) {
          if (!s.Name?.startsWith(prefix)) {
            continue; // the name filter matches prefixes of words too: keep exact prefixes only
          }
          found.push({
            name: s.Name,
            instanceId: s.Tags?.find((t) => t.Key === TagKeys.INSTANCE_ID)?.Value,
            createdAt: s.CreatedDate?.toISOString(),
          });
        }
        nextToken = page.NextToken;
      } while (nextToken);
      return found;
    },
  };
}

/** The value of a secret (the GitHub credentials). */
export async function readSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  const response = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (typeof response.SecretString !== 'string') {
    throw new Error(`secret ${secretId} has no string value`);
  }
  return response.SecretString;
}
