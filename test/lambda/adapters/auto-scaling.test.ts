import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeScalingActivitiesCommand,
  DescribeWarmPoolCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  SetInstanceHealthCommand,
  SetInstanceProtectionCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { classifyInstanceError, createAutoScalingClient, createAutoScalingPort } from '../../../lambda/adapters/auto-scaling';

const asMock = mockClient(AutoScalingClient);
beforeEach(() => asMock.reset());

const port = () => createAutoScalingPort(new AutoScalingClient({ region: 'eu-west-1' }));
const action = { autoScalingGroupName: 'linux-asg', hookName: 'github-runner-fleet-launch', instanceId: 'i-0123456789abcdef0' };

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

function group(instances: Array<{ id: string; state: string; protectedFromScaleIn?: boolean }>, name = 'linux-asg') {
  return {
    AutoScalingGroups: [{
      AutoScalingGroupName: name,
      MinSize: 0,
      MaxSize: 10,
      DesiredCapacity: instances.length,
      DefaultCooldown: 0,
      AvailabilityZones: ['eu-west-1a'],
      HealthCheckType: 'EC2',
      CreatedTime: new Date('2026-01-01T00:00:00Z'),
      Instances: instances.map((i) => ({
        InstanceId: i.id,
        LifecycleState: i.state as 'InService',
        ProtectedFromScaleIn: i.protectedFromScaleIn ?? false,
        AvailabilityZone: 'eu-west-1a',
        HealthStatus: 'Healthy',
      })),
    }],
  };
}

function warm(ids: string[], state = 'Warmed:Stopped', nextToken?: string) {
  return {
    Instances: ids.map((id) => ({ InstanceId: id, LifecycleState: state as 'Warmed:Stopped', AvailabilityZone: 'eu-west-1a', HealthStatus: 'Healthy', ProtectedFromScaleIn: false })),
    NextToken: nextToken,
  };
}

function activity(description: string, start: string) {
  return { ActivityId: description, AutoScalingGroupName: 'linux-asg', Cause: 'c', StartTime: new Date(start), StatusCode: 'InProgress' as const, Description: description };
}

describe('lifecycle actions', () => {
  test('completes by token when the event had one, by instance id otherwise', async () => {
    asMock.on(CompleteLifecycleActionCommand).resolves({});

    expect(await port().completeLifecycleAction({ ...action, token: 'b4c5-token' }, 'CONTINUE')).toBe(true);
    expect(await port().completeLifecycleAction(action, 'ABANDON')).toBe(true);

    expect(asMock.commandCalls(CompleteLifecycleActionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-launch', LifecycleActionToken: 'b4c5-token', LifecycleActionResult: 'CONTINUE' },
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-launch', InstanceId: 'i-0123456789abcdef0', LifecycleActionResult: 'ABANDON' },
    ]);
  });

  test('records a heartbeat by token or instance id', async () => {
    asMock.on(RecordLifecycleActionHeartbeatCommand).resolves({});

    expect(await port().recordHeartbeat({ ...action, token: 't' })).toBe(true);
    expect(await port().recordHeartbeat(action)).toBe(true);

    expect(asMock.commandCalls(RecordLifecycleActionHeartbeatCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-launch', LifecycleActionToken: 't' },
      { AutoScalingGroupName: 'linux-asg', LifecycleHookName: 'github-runner-fleet-launch', InstanceId: 'i-0123456789abcdef0' },
    ]);
  });

  test('"No active Lifecycle Action found" resolves false: completing is idempotent', async () => {
    asMock.on(CompleteLifecycleActionCommand).rejects(awsError('ValidationError', 'No active Lifecycle Action found with instance ID i-0123456789abcdef0'));
    asMock.on(RecordLifecycleActionHeartbeatCommand).rejects(awsError('ValidationError', 'No active Lifecycle Action found with token b4c5'));

    expect(await port().completeLifecycleAction(action, 'CONTINUE')).toBe(false);
    expect(await port().recordHeartbeat(action)).toBe(false);
  });

  test.each([
    ['another validation error', awsError('ValidationError', 'Lifecycle hook not found')],
    ['access denied', awsError('AccessDenied', 'User is not authorized to perform autoscaling:CompleteLifecycleAction')],
    ['throttling', awsError('Throttling', 'Rate exceeded')],
  ])('%s propagates', async (_case, error) => {
    asMock.on(CompleteLifecycleActionCommand).rejects(error);
    asMock.on(RecordLifecycleActionHeartbeatCommand).rejects(error);
    await expect(port().completeLifecycleAction(action, 'CONTINUE')).rejects.toThrow(error.message);
    await expect(port().recordHeartbeat(action)).rejects.toThrow(error.message);
  });
});

describe('listGroupInstances', () => {
  test('in-service instances and every page of the warm pool; no activities read without draining instances', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: 'i-1', state: 'InService', protectedFromScaleIn: true }, { id: 'i-2', state: 'Pending:Wait' }]));
    asMock.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'linux-asg', NextToken: undefined }).resolves(warm(['i-3'], 'Warmed:Stopped', 'page-2'));
    asMock.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'linux-asg', NextToken: 'page-2' }).resolves(warm(['i-4'], 'Warmed:Pending:Wait'));

    const instances = await port().listGroupInstances('linux-asg');

    expect(instances).toEqual([
      { instanceId: 'i-1', lifecycleState: 'InService', protectedFromScaleIn: true },
      { instanceId: 'i-2', lifecycleState: 'Pending:Wait', protectedFromScaleIn: false },
      { instanceId: 'i-3', lifecycleState: 'Warmed:Stopped' },
      { instanceId: 'i-4', lifecycleState: 'Warmed:Pending:Wait' },
    ]);
    expect(asMock.commandCalls(DescribeAutoScalingGroupsCommand)[0].args[0].input).toEqual({ AutoScalingGroupNames: ['linux-asg'] });
    expect(asMock.commandCalls(DescribeWarmPoolCommand)).toHaveLength(2);
    expect(asMock.commandCalls(DescribeScalingActivitiesCommand)).toHaveLength(0);
  });

  test('draining instances are dated from their termination activity, reading further pages when needed', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves(group([
      { id: 'i-1', state: 'Terminating:Wait' }, { id: 'i-2', state: 'Terminating:Wait' }, { id: 'i-3', state: 'Terminating:Wait' },
    ]));
    asMock.on(DescribeWarmPoolCommand).resolves(warm([]));
    asMock.on(DescribeScalingActivitiesCommand, { AutoScalingGroupName: 'linux-asg', MaxRecords: 100, NextToken: undefined }).resolves({
      Activities: [
        activity('Launching a new EC2 instance: i-1', '2026-11-24T09:00:00Z'),
        activity('Terminating EC2 instance: i-1', '2026-11-24T10:00:00Z'),
      ],
      NextToken: 'older',
    });
    asMock.on(DescribeScalingActivitiesCommand, { AutoScalingGroupName: 'linux-asg', MaxRecords: 100, NextToken: 'older' }).resolves({
      Activities: [activity('Terminating EC2 instance: i-2', '2026-11-24T08:00:00Z')],
    });

    const instances = await port().listGroupInstances('linux-asg');

    expect(instances.map((i) => [i.instanceId, i.terminatingSince])).toEqual([
      ['i-1', '2026-11-24T10:00:00.000Z'],
      ['i-2', '2026-11-24T08:00:00.000Z'],
      ['i-3', undefined],
    ]);
    expect(asMock.commandCalls(DescribeScalingActivitiesCommand)).toHaveLength(2);
  });

  test('a group that does not exist is an error, never an empty fleet', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await expect(port().listGroupInstances('gone-asg')).rejects.toThrow('Auto Scaling group gone-asg not found');
    expect(asMock.commandCalls(DescribeWarmPoolCommand)).toHaveLength(0);
  });
});

describe('describeCapacity', () => {
  test('one DescribeAutoScalingGroups call: desired, minimum and maximum size, and the group\'s instances with their protection', async () => {
    const described = group([
      { id: 'i-1', state: 'InService', protectedFromScaleIn: true },
      { id: 'i-2', state: 'Pending:Wait' },
      { id: 'i-3', state: 'Terminating:Wait', protectedFromScaleIn: true },
    ]);
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ ...described.AutoScalingGroups[0], DesiredCapacity: 4, MinSize: 1, MaxSize: 25 }],
    });

    const capacity = await port().describeCapacity('linux-asg');

    expect(capacity).toEqual({
      desired: 4,
      min: 1,
      max: 25,
      instances: [
        { instanceId: 'i-1', lifecycleState: 'InService', protectedFromScaleIn: true },
        { instanceId: 'i-2', lifecycleState: 'Pending:Wait', protectedFromScaleIn: false },
        { instanceId: 'i-3', lifecycleState: 'Terminating:Wait', protectedFromScaleIn: true },
      ],
    });
    expect(asMock.commandCalls(DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input)).toEqual([{ AutoScalingGroupNames: ['linux-asg'] }]);
    // The warm pool is not capacity the controller counts: it is not read.
    expect(asMock.commandCalls(DescribeWarmPoolCommand)).toHaveLength(0);
  });

  test('a group without instances has none', async () => {
    const described = group([]);
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ ...described.AutoScalingGroups[0], Instances: undefined, DesiredCapacity: 0 }],
    });
    expect(await port().describeCapacity('linux-asg')).toEqual({ desired: 0, min: 0, max: 10, instances: [] });
  });

  test('a group that does not exist is an error, never a group of zero capacity (that would read as a gap to fill)', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await expect(port().describeCapacity('gone-asg')).rejects.toThrow('Auto Scaling group gone-asg not found');
  });

  test('an answer about another group only is not taken for this one', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves(group([{ id: 'i-1', state: 'InService' }], 'other-asg'));
    await expect(port().describeCapacity('linux-asg')).rejects.toThrow('Auto Scaling group linux-asg not found');
  });

  test('an AWS failure propagates', async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    await expect(port().describeCapacity('linux-asg')).rejects.toThrow('Rate exceeded');
  });
});

describe('setDesiredCapacity', () => {
  test('SetDesiredCapacity with the group and the number, not honouring cooldowns', async () => {
    asMock.on(SetDesiredCapacityCommand).resolves({});

    await port().setDesiredCapacity('linux-asg', 7);

    expect(asMock.commandCalls(SetDesiredCapacityCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'linux-asg', DesiredCapacity: 7, HonorCooldown: false },
    ]);
  });

  test('a refusal (above the maximum, access denied) propagates: the controller publishes the gap instead', async () => {
    asMock.on(SetDesiredCapacityCommand).rejects(awsError('ValidationError', 'New SetDesiredCapacity value 11 is above max value 10 for the AutoScalingGroup.'));
    await expect(port().setDesiredCapacity('linux-asg', 11)).rejects.toThrow('is above max value 10');
  });
});

test('the functions\' client retries and times out', async () => {
  const client = createAutoScalingClient();
  expect(await client.config.maxAttempts()).toBe(4);
});

describe('groupOfInstance', () => {
  test('the group of an instance, or undefined for one outside any group', async () => {
    asMock.on(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-1'] }).resolves({
      AutoScalingInstances: [{
        InstanceId: 'i-1',
        AutoScalingGroupName: 'linux-asg',
        AvailabilityZone: 'eu-west-1a',
        LifecycleState: 'InService',
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      }],
    });
    asMock.on(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-2'] }).resolves({ AutoScalingInstances: [] });
    expect(await port().groupOfInstance('i-1')).toBe('linux-asg');
    expect(await port().groupOfInstance('i-2')).toBeUndefined();
  });
});

describe('lifecycleStateOf', () => {
  test('the lifecycle state of the instance asked for; undefined for one no group knows; failures propagate', async () => {
    asMock.on(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-1'] }).resolves({
      AutoScalingInstances: [{
        InstanceId: 'i-1',
        AutoScalingGroupName: 'linux-asg',
        AvailabilityZone: 'eu-west-1a',
        LifecycleState: 'Pending:Wait',
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      }],
    });
    asMock.on(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-2'] }).resolves({ AutoScalingInstances: [] });
    asMock.on(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-3'] }).rejects(awsError('AccessDenied', 'not authorized'));

    expect(await port().lifecycleStateOf!('i-1')).toBe('Pending:Wait');
    expect(await port().lifecycleStateOf!('i-2')).toBeUndefined();
    await expect(port().lifecycleStateOf!('i-3')).rejects.toThrow('not authorized');
  });
});

describe('the instance agent\'s calls', () => {
  const MIN_SIZE = 'Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group\'s min size '
    + 'constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group\'s min size.';
  const NOT_IN_SERVICE = 'The instance i-0123456789abcdef0 is not in InService or EnteringStandby or Standby.';
  const GONE = 'Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0';

  test('listWarmPoolInstances: every page of DescribeWarmPool, ids only; DescribeAutoScalingGroups not called', async () => {
    asMock.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'linux-asg', NextToken: undefined }).resolves(warm(['i-w1'], 'Warmed:Stopped', 'page2'));
    asMock.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'linux-asg', NextToken: 'page2' }).resolves(warm(['i-w2'], 'Warmed:Pending:Wait'));
    expect(await port().listWarmPoolInstances('linux-asg')).toEqual(['i-w1', 'i-w2']);
    expect(asMock.commandCalls(DescribeAutoScalingGroupsCommand)).toHaveLength(0);
  });

  test('setInstanceProtection: one instance of the group, on or off', async () => {
    asMock.on(SetInstanceProtectionCommand).resolves({});
    expect(await port().setInstanceProtection('linux-asg', 'i-0123456789abcdef0', true)).toBe('done');
    expect(await port().setInstanceProtection('linux-asg', 'i-0123456789abcdef0', false)).toBe('done');
    expect(asMock.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: 'linux-asg', InstanceIds: ['i-0123456789abcdef0'], ProtectedFromScaleIn: true },
      { AutoScalingGroupName: 'linux-asg', InstanceIds: ['i-0123456789abcdef0'], ProtectedFromScaleIn: false },
    ]);
  });

  test('setInstanceProtection on an instance already terminating: not-in-service, not an error', async () => {
    asMock.on(SetInstanceProtectionCommand).rejects(awsError('ValidationError', NOT_IN_SERVICE));
    expect(await port().setInstanceProtection('linux-asg', 'i-0123456789abcdef0', true)).toBe('not-in-service');
  });

  test('terminateInstance: the decrement setting as asked; a decrement refused at the minimum size is at-min-size', async () => {
    asMock.on(TerminateInstanceInAutoScalingGroupCommand, { ShouldDecrementDesiredCapacity: true }).rejects(awsError('ValidationError', MIN_SIZE));
    asMock.on(TerminateInstanceInAutoScalingGroupCommand, { ShouldDecrementDesiredCapacity: false }).resolves({});
    expect(await port().terminateInstance('i-0123456789abcdef0', true)).toBe('at-min-size');
    expect(await port().terminateInstance('i-0123456789abcdef0', false)).toBe('done');
    expect(asMock.commandCalls(TerminateInstanceInAutoScalingGroupCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceId: 'i-0123456789abcdef0', ShouldDecrementDesiredCapacity: true },
      { InstanceId: 'i-0123456789abcdef0', ShouldDecrementDesiredCapacity: false },
    ]);
  });

  test('terminateInstance of an instance no group knows any more: not-found', async () => {
    asMock.on(TerminateInstanceInAutoScalingGroupCommand).rejects(awsError('ValidationError', GONE));
    expect(await port().terminateInstance('i-0123456789abcdef0', false)).toBe('not-found');
  });

  test('setUnhealthy: SetInstanceHealth Unhealthy without the grace period', async () => {
    asMock.on(SetInstanceHealthCommand).resolves({});
    expect(await port().setUnhealthy('i-0123456789abcdef0')).toBe('done');
    expect(asMock.commandCalls(SetInstanceHealthCommand)[0].args[0].input)
      .toEqual({ InstanceId: 'i-0123456789abcdef0', HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false });
  });

  test.each([
    ['SetInstanceProtection', SetInstanceProtectionCommand, () => port().setInstanceProtection('linux-asg', 'i-0123456789abcdef0', true)],
    ['TerminateInstanceInAutoScalingGroup', TerminateInstanceInAutoScalingGroupCommand, () => port().terminateInstance('i-0123456789abcdef0', true)],
    ['SetInstanceHealth', SetInstanceHealthCommand, () => port().setUnhealthy('i-0123456789abcdef0')],
  ] as const)('%s: access denied, throttling and unknown validation errors propagate (the handler answers 500)', async (_name, command, call) => {
    for (const error of [
      awsError('AccessDenied', 'User is not authorized to perform: autoscaling:SetInstanceProtection'),
      awsError('Throttling', 'Rate exceeded'),
      awsError('ValidationError', 'Something new'),
    ]) {
      asMock.reset();
      asMock.on(command as any).rejects(error);
      await expect(call()).rejects.toThrow(error.message);
    }
  });

  test('a minimum-size refusal is never taken for a state refusal by the calls that cannot decrement', async () => {
    asMock.on(SetInstanceHealthCommand).rejects(awsError('ValidationError', MIN_SIZE));
    await expect(port().setUnhealthy('i-0123456789abcdef0')).rejects.toThrow(/minSize/);
  });

  test.each([
    [MIN_SIZE, 'at-min-size'],
    [NOT_IN_SERVICE, 'not-in-service'],
    ['The instance i-0123456789abcdef0 is not in InService or Standby.', 'not-in-service'],
    [GONE, 'not-found'],
    ['The instance i-0123456789abcdef0 is not part of Auto Scaling group linux-asg.', 'not-found'],
    ['No active Lifecycle Action found with instance ID i-0123456789abcdef0', undefined],
    ['Rate exceeded', undefined],
  ])('classifyInstanceError(ValidationError %p) = %p', (message, expected) => {
    expect(classifyInstanceError(awsError('ValidationError', message))).toBe(expected);
  });

  test('only ValidationErrors are classified', () => {
    expect(classifyInstanceError(awsError('AccessDenied', NOT_IN_SERVICE))).toBeUndefined();
    expect(classifyInstanceError(undefined)).toBeUndefined();
  });
});
