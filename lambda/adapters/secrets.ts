import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ClientSource, clientOf, secretsManagerSdk } from './aws-sdk';
import { TagKeys } from '../../src/contract';
import type { InstanceSecretInfo, InstanceSecretWrite, SecretsPort } from '../ports';

/** The Secrets Manager client for the functions: short timeouts, so a hook is never left hanging on AWS. */
export function createSecretsManagerClient(): SecretsManagerClient {
  const { SecretsManagerClient } = secretsManagerSdk();
  return new SecretsManagerClient({ maxAttempts: 4, requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 } });
}

/**
 * Per-instance secrets through Secrets Manager. Given `lazy(createSecretsManagerClient)`, the client (and
 * the SDK package) is made on the first call.
 */
export function createSecretsPort(source: ClientSource<SecretsManagerClient>): SecretsPort {
  const client = clientOf(source);
  return {
    putInstanceSecret: (secret) => putInstanceSecret(client(), secret),
    deleteInstanceSecret: (name) => deleteInstanceSecret(client(), name),
    instanceSecretExists: (name) => instanceSecretExists(client(), name),
    listInstanceSecrets: (prefix) => listInstanceSecrets(client(), prefix),
  };
}

/**
 * CreateSecret, tagged with the instance (its ARN is what the instance role's read permission is
 * conditioned on). If the secret exists already (a redelivered event, a warm instance back in service):
 * PutSecretValue, and TagResource so that the tags are right whatever wrote them before.
 */
export async function putInstanceSecret(client: SecretsManagerClient, secret: InstanceSecretWrite): Promise<void> {
  const { CreateSecretCommand, PutSecretValueCommand, TagResourceCommand } = secretsManagerSdk();
  const tags = [
    { Key: TagKeys.INSTANCE_ARN, Value: secret.instanceArn },
    { Key: TagKeys.INSTANCE_ID, Value: secret.instanceId },
  ];
  try {
    await client.send(new CreateSecretCommand({
      Name: secret.name,
      SecretString: secret.value,
      Description: `GitHub runner registration of ${secret.instanceId}; readable by that instance only`,
      Tags: tags,
    }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceExistsException') {
      throw error;
    }
    await client.send(new PutSecretValueCommand({ SecretId: secret.name, SecretString: secret.value }));
    await client.send(new TagResourceCommand({ SecretId: secret.name, Tags: tags }));
  }
}

/** DeleteSecret without a recovery window; `false` when there was no such secret. */
export async function deleteInstanceSecret(client: SecretsManagerClient, name: string): Promise<boolean> {
  const { DeleteSecretCommand } = secretsManagerSdk();
  try {
    await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      return false;
    }
    throw error;
  }
}

/**
 * DescribeSecret: whether the secret exists. One scheduled for deletion (a `DeletedDate`) does not; a
 * missing one (ResourceNotFoundException) does not; anything else (access denied, throttling) propagates.
 */
export async function instanceSecretExists(client: SecretsManagerClient, name: string): Promise<boolean> {
  const { DescribeSecretCommand } = secretsManagerSdk();
  try {
    const response = await client.send(new DescribeSecretCommand({ SecretId: name }));
    return response.DeletedDate === undefined;
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      return false;
    }
    throw error;
  }
}

/** Every secret whose name starts with `prefix` (ListSecrets with the `name` filter, all pages); never values. */
export async function listInstanceSecrets(client: SecretsManagerClient, prefix: string): Promise<InstanceSecretInfo[]> {
  const { ListSecretsCommand } = secretsManagerSdk();
  const found: InstanceSecretInfo[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListSecretsCommand({
      Filters: [{ Key: 'name', Values: [prefix] }],
      MaxResults: 100,
      NextToken: nextToken,
    }));
    for (const s of page.SecretList ?? []) {
      // The filter is a case-insensitive prefix match: keep exact prefixes only.
      if (!s.Name?.startsWith(prefix)) {
        continue;
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
}

/** GetSecretValue: the string value of a secret (the GitHub credentials). */
export async function readSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  const { GetSecretValueCommand } = secretsManagerSdk();
  const response = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (typeof response.SecretString !== 'string') {
    throw new Error(`secret ${secretId} has no string value (binary secrets are not supported)`);
  }
  return response.SecretString;
}
