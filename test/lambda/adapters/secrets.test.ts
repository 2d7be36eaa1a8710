import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretsCommandInput,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createSecretsManagerClient, createSecretsPort, readSecretString } from '../../../lambda/adapters/secrets';
import { TagKeys } from '../../../src/contract';

const smMock = mockClient(SecretsManagerClient);
beforeEach(() => smMock.reset());

const port = () => createSecretsPort(new SecretsManagerClient({ region: 'eu-west-1' }));

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

const secret = {
  name: 'github-runner-fleet/linux/i-0123456789abcdef0',
  instanceId: 'i-0123456789abcdef0',
  instanceArn: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0',
  value: '{"mode":"ephemeral","runnerName":"linux-i-0123456789abcdef0","jitConfig":"ZW5jb2RlZA=="}',
};
const tags = [
  { Key: 'github-runner-fleet:instance-arn', Value: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0' },
  { Key: 'github-runner-fleet:instance-id', Value: 'i-0123456789abcdef0' },
];

describe('putInstanceSecret', () => {
  test('creates the secret with its value, tagged with the instance ARN and id (the contract tag keys)', async () => {
    smMock.on(CreateSecretCommand).resolves({});

    await port().putInstanceSecret(secret);

    expect(tags.map((t) => t.Key)).toEqual([TagKeys.INSTANCE_ARN, TagKeys.INSTANCE_ID]);
    expect(smMock.commandCalls(CreateSecretCommand)[0].args[0].input).toEqual({
      Name: secret.name,
      SecretString: secret.value,
      Description: 'GitHub runner registration of i-0123456789abcdef0; readable by that instance only',
      Tags: tags,
    });
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  test('an existing secret gets the new value and its tags again', async () => {
    smMock.on(CreateSecretCommand).rejects(awsError('ResourceExistsException', 'The operation failed because the secret already exists.'));
    smMock.on(PutSecretValueCommand).resolves({});
    smMock.on(TagResourceCommand).resolves({});

    await port().putInstanceSecret(secret);

    expect(smMock.commandCalls(PutSecretValueCommand)[0].args[0].input).toEqual({ SecretId: secret.name, SecretString: secret.value });
    expect(smMock.commandCalls(TagResourceCommand)[0].args[0].input).toEqual({ SecretId: secret.name, Tags: tags });
  });

  test('other failures propagate, and nothing else is tried', async () => {
    smMock.on(CreateSecretCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform secretsmanager:CreateSecret'));
    await expect(port().putInstanceSecret(secret)).rejects.toThrow('not authorized');
    expect(smMock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});

describe('deleteInstanceSecret', () => {
  test('deletes at once, without a recovery window; a missing secret resolves false', async () => {
    smMock.on(DeleteSecretCommand).resolvesOnce({}).rejectsOnce(awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret."));

    expect(await port().deleteInstanceSecret(secret.name)).toBe(true);
    expect(await port().deleteInstanceSecret(secret.name)).toBe(false);

    expect(smMock.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: secret.name, ForceDeleteWithoutRecovery: true },
      { SecretId: secret.name, ForceDeleteWithoutRecovery: true },
    ]);
  });

  test('other failures propagate', async () => {
    smMock.on(DeleteSecretCommand).rejects(awsError('InternalServiceError', 'boom'));
    await expect(port().deleteInstanceSecret(secret.name)).rejects.toThrow('boom');
  });
});

describe('instanceSecretExists', () => {
  test('DescribeSecret: exists; missing or scheduled for deletion does not; other failures propagate', async () => {
    smMock.on(DescribeSecretCommand)
      .resolvesOnce({ Name: secret.name })
      .rejectsOnce(awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret."))
      .resolvesOnce({ Name: secret.name, DeletedDate: new Date('2026-11-24T10:00:00Z') })
      .rejectsOnce(awsError('AccessDeniedException', 'not authorized to perform secretsmanager:DescribeSecret'));

    expect(await port().instanceSecretExists!(secret.name)).toBe(true);
    expect(await port().instanceSecretExists!(secret.name)).toBe(false);
    expect(await port().instanceSecretExists!(secret.name)).toBe(false);
    await expect(port().instanceSecretExists!(secret.name)).rejects.toThrow('not authorized');
    expect(smMock.commandCalls(DescribeSecretCommand).map((c) => c.args[0].input)).toEqual(Array(4).fill({ SecretId: secret.name }));
  });
});

describe('listInstanceSecrets', () => {
  test('every page of the name filter, exact prefixes only, with the instance id tag and creation date', async () => {
    const page = (nextToken: string | undefined) => ({ Filters: [{ Key: 'name', Values: ['fleet/linux/'] }], MaxResults: 100, NextToken: nextToken } as ListSecretsCommandInput);
    smMock.on(ListSecretsCommand, page(undefined)).resolves({
      SecretList: [{ Name: 'fleet/linux/i-1', Tags: [{ Key: TagKeys.INSTANCE_ID, Value: 'i-1' }, { Key: 'other', Value: 'x' }], CreatedDate: new Date('2026-11-24T10:00:00Z') }],
      NextToken: 'p2',
    });
    smMock.on(ListSecretsCommand, page('p2')).resolves({
      SecretList: [{ Name: 'FLEET/linux/i-9' }, { Name: 'other/fleet/linux/i-8' }, { Name: 'fleet/linux/i-3' }],
    });

    const found = await port().listInstanceSecrets('fleet/linux/');

    expect(found).toEqual([
      { name: 'fleet/linux/i-1', instanceId: 'i-1', createdAt: '2026-11-24T10:00:00.000Z' },
      { name: 'fleet/linux/i-3', instanceId: undefined, createdAt: undefined },
    ]);
    expect(smMock.commandCalls(ListSecretsCommand)).toHaveLength(2);
  });
});

describe('readSecretString', () => {
  test('reads the string value', async () => {
    smMock.on(GetSecretValueCommand, { SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh' }).resolves({ SecretString: '{"token":"x"}' });
    expect(await readSecretString(new SecretsManagerClient({}), 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh')).toBe('{"token":"x"}');
  });

  test('a binary secret is refused, without its value', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(readSecretString(new SecretsManagerClient({}), 'gh')).rejects.toThrow('secret gh has no string value');
  });
});

test('the functions\' client retries', async () => {
  expect(await createSecretsManagerClient().config.maxAttempts()).toBe(4);
});
