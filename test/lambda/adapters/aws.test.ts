import {
  AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand,
  DescribeWarmPoolCommand, RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateSecretCommand, DeleteSecretCommand, GetSecretValueCommand, ListSecretsCommand, PutSecretValueCommand, SecretsManagerClient, TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createAutoScalingPort } from '../../../lambda/adapters/auto-scaling';
import { environmentFromContext } from '../../../lambda/adapters/runtime';
import { createSecretsPort, readSecretString } from '../../../lambda/adapters/secrets';

const asMock = mockClient(AutoScalingClient);
const smMock = mockClient(SecretsManagerClient);
beforeEach(() => {
  asMock.reset();
  smMock.reset();
});

const action = { autoScalingGroupName: 'g', hookName: 'h', instanceId: 'i-0123456789abcdef0' };

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

describe('Auto Scaling adapter', () => {
  test('completes by token when it has one, by instance id otherwise', async () => {
    asMock.on(CompleteLifecycleActionCommand).resolves({});
    const port = createAutoScalingPort(new AutoScalingClient({}));
    expect(await port.completeLifecycleAction({ ...action, token: 'tok' }, 'CONTINUE')).toBe(true);
    expect(await port.completeLifecycleAction(action, 'ABANDON')).toBe(true);
    const inputs = asMock.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input);
    expect(inputs).toEqual([
      { AutoScalingGroupName: 'g', LifecycleHookName: 'h', LifecycleActionToken: 'tok', LifecycleActionResult: 'CONTINUE' },
      { AutoScalingGroupName: 'g', LifecycleHookName: 'h', InstanceId: 'i-0123456789abcdef0', LifecycleActionResult: 'ABANDON' },
    ]);
  });

  test('"no active lifecycle action" is not an error: completing is idempotent', async () => {
    asMock.on(CompleteLifecycleActionCommand).rejects(awsError('ValidationError', 'No active Lifecycle Action found with instance ID i-0123456789abcdef0'));
    asMock.on(RecordLifecycleActionHeartbeatCommand).rejects(awsError('ValidationError', 'No active Lifecycle Action found with token tok'));
    const port = createAutoScalingPort(new AutoScalingClient({}));
    expect(await port.completeLifecycleAction(action, 'CONTINUE')).toBe(false);
    expect(await port.recordHeartbeat(action)).toBe(false);
  });

  test('other errors propagate', async () => {
    asMock.on(CompleteLifecycleActionCommand).rejects(awsError('AccessDenied', 'not authorized'));
    await expect(createAutoScalingPort(new AutoScalingClient({})).completeLifecycleAction(action, 'CONTINUE')).rejects.toThrow('not authorized');
  });

  test('lists in-service and warm instances (all warm-pool pages) and when draining ones began terminating', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{
        AutoScalingGroupName: 'g', MinSize: 0, MaxSize: 1, DesiredCapacity: 1, DefaultCooldown: 0, AvailabilityZones: [], HealthCheckType: 'EC2', CreatedTime: new Date(),
        Instances: [
          { InstanceId: 'i-1', LifecycleState: 'InService', ProtectedFromScaleIn: true, AvailabilityZone: 'a', HealthStatus: 'Healthy' },
          { InstanceId: 'i-2', LifecycleState: 'Terminating:Wait', ProtectedFromScaleIn: false, AvailabilityZone: 'a', HealthStatus: 'Healthy' },
        ],
      }],
    });
    asMock.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'g', NextToken: undefined })
      .resolves({ Instances: [{ InstanceId: 'i-3', LifecycleState: 'Warmed:Stopped', AvailabilityZone: 'a', HealthStatus: 'Healthy' }], NextToken: 'p2' });
    asMock.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'g', NextToken: 'p2' })
      .resolves({ Instances: [{ InstanceId: 'i-4', LifecycleState: 'Warmed:Pending:Wait', AvailabilityZone: 'a', HealthStatus: 'Healthy' }] });
    asMock.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [
        { ActivityId: 'x', AutoScalingGroupName: 'g', Cause: 'c', StartTime: new Date('2026-11-24T10:00:00Z'), StatusCode: 'InProgress', Description: 'Terminating EC2 instance: i-2' },
      ],
    });
    const instances = await createAutoScalingPort(new AutoScalingClient({})).listGroupInstances('g');
    expect(instances).toEqual([
      { instanceId: 'i-1', lifecycleState: 'InService', protectedFromScaleIn: true },
      { instanceId: 'i-2', lifecycleState: 'Terminating:Wait', protectedFromScaleIn: false, terminatingSince: '2026-11-24T10:00:00.000Z' },
      { instanceId: 'i-3', lifecycleState: 'Warmed:Stopped' },
      { instanceId: 'i-4', lifecycleState: 'Warmed:Pending:Wait' },
    ]);
  });
});

describe('Secrets Manager adapter', () => {
  const secret = { name: 'github-runner-fleet/linux/i-1', instanceId: 'i-1', instanceArn: 'arn:aws:ec2:eu-west-1:1:instance/i-1', value: '{"x":1}' };

  test('creates the secret tagged with the instance ARN and id', async () => {
    smMock.on(CreateSecretCommand).resolves({});
    await createSecretsPort(new SecretsManagerClient({})).putInstanceSecret(secret);
    expect(smMock.commandCalls(CreateSecretCommand)[0].args[0].input).toMatchObject({
      Name: 'github-runner-fleet/linux/i-1',
      SecretString: '{"x":1}',
      Tags: [
        { Key: 'github-runner-fleet:instance-arn', Value: 'arn:aws:ec2:eu-west-1:1:instance/i-1' },
        { Key: 'github-runner-fleet:instance-id', Value: 'i-1' },
      ],
    });
  });

  test('an existing secret gets a new value and its tags again', async () => {
    smMock.on(CreateSecretCommand).rejects(awsError('ResourceExistsException', 'exists'));
    smMock.on(PutSecretValueCommand).resolves({});
    smMock.on(TagResourceCommand).resolves({});
    await createSecretsPort(new SecretsManagerClient({})).putInstanceSecret(secret);
    expect(smMock.commandCalls(PutSecretValueCommand)[0].args[0].input).toEqual({ SecretId: secret.name, SecretString: '{"x":1}' });
    expect(smMock.commandCalls(TagResourceCommand)).toHaveLength(1);
  });

  test('deletes without a recovery window; a missing secret is not an error', async () => {
    smMock.on(DeleteSecretCommand).resolvesOnce({}).rejectsOnce(awsError('ResourceNotFoundException', 'gone'));
    const port = createSecretsPort(new SecretsManagerClient({}));
    expect(await port.deleteInstanceSecret('a')).toBe(true);
    expect(await port.deleteInstanceSecret('a')).toBe(false);
    expect(smMock.commandCalls(DeleteSecretCommand)[0].args[0].input).toEqual({ SecretId: 'a', ForceDeleteWithoutRecovery: true });
  });

  test('lists every page of the prefix, keeping exact prefixes only', async () => {
    smMock.on(ListSecretsCommand, { NextToken: undefined } as any).resolves({
      SecretList: [{ Name: 'p/i-1', Tags: [{ Key: 'github-runner-fleet:instance-id', Value: 'i-1' }], CreatedDate: new Date('2026-11-24T10:00:00Z') }],
      NextToken: 'n',
    });
    smMock.on(ListSecretsCommand, { NextToken: 'n' } as any).resolves({ SecretList: [{ Name: 'other/p/i-2' }, { Name: 'p/i-3' }] });
    const found = await createSecretsPort(new SecretsManagerClient({})).listInstanceSecrets('p/');
    expect(found).toEqual([
      { name: 'p/i-1', instanceId: 'i-1', createdAt: '2026-11-24T10:00:00.000Z' },
      { name: 'p/i-3', instanceId: undefined, createdAt: undefined },
    ]);
    expect(smMock.commandCalls(ListSecretsCommand)[0].args[0].input).toMatchObject({ Filters: [{ Key: 'name', Values: ['p/'] }] });
  });

  test('reads a string secret', async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretString: 'value' });
    expect(await readSecretString(new SecretsManagerClient({}), 'arn')).toBe('value');
  });
});

describe('runtime environment', () => {
  test('from the function ARN', () => {
    expect(environmentFromContext({ invokedFunctionArn: 'arn:aws-cn:lambda:cn-north-1:123456789012:function:f' }))
      .toEqual({ partition: 'aws-cn', region: 'cn-north-1', accountId: '123456789012' });
    expect(() => environmentFromContext({ invokedFunctionArn: 'nonsense' })).toThrow(/cannot read/);
  });
});
