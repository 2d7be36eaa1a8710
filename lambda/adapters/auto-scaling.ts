import type { Activity, AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { autoScalingSdk, ClientSource, clientOf } from './aws-sdk';
import type {
  AutoScalingPort, GroupCapacity, GroupInstance, InstanceActionOutcome, LifecycleActionRef, LifecycleResult, TerminateOutcome,
} from '../ports';

/** Pages of scaling activities read to date draining instances (100 activities a page, newest first). */
const ACTIVITY_PAGES = 3;

/** The Auto Scaling API client for the functions: short timeouts, so a hook is never left hanging on AWS. */
export function createAutoScalingClient(): AutoScalingClient {
  const { AutoScalingClient } = autoScalingSdk();
  return new AutoScalingClient({ maxAttempts: 4, requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 } });
}

/**
 * Lifecycle actions and group instances through the Auto Scaling API. Given `lazy(createAutoScalingClient)`,
 * the client (and the SDK package) is made on the first call.
 */
export function createAutoScalingPort(source: ClientSource<AutoScalingClient>): AutoScalingPort {
  const client = clientOf(source);
  return {
    completeLifecycleAction: (action, result) => completeLifecycleAction(client(), action, result),
    recordHeartbeat: (action) => recordHeartbeat(client(), action),
    listGroupInstances: (groupName) => listGroupInstances(client(), groupName),
    groupOfInstance: (instanceId) => groupOfInstance(client(), instanceId),
    lifecycleStateOf: (instanceId) => lifecycleStateOf(client(), instanceId),
    describeCapacity: (groupName) => describeCapacity(client(), groupName),
    setDesiredCapacity: (groupName, desired) => setDesiredCapacity(client(), groupName, desired),
    listWarmPoolInstances: async (groupName) => (await warmPoolInstances(client(), groupName)).map((i) => i.instanceId),
    setInstanceProtection: (groupName, instanceId, protect) => setInstanceProtection(client(), groupName, instanceId, protect),
    terminateInstance: (instanceId, decrement) => terminateInstance(client(), instanceId, decrement),
    setUnhealthy: (instanceId) => setUnhealthy(client(), instanceId),
  };
}

/**
 * DescribeAutoScalingGroups for one group: desired, minimum and maximum size and the group's instances.
 * A group that does not exist is an error (zeros would read as "no capacity" and raise the desired size).
 */
export async function describeCapacity(client: AutoScalingClient, autoScalingGroupName: string): Promise<GroupCapacity> {
  const { DescribeAutoScalingGroupsCommand } = autoScalingSdk();
  const groups = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }));
  const group = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === autoScalingGroupName);
  if (!group || group.DesiredCapacity === undefined || group.MinSize === undefined || group.MaxSize === undefined) {
    throw new Error(`Auto Scaling group ${autoScalingGroupName} not found`);
  }
  const instances: GroupInstance[] = [];
  for (const i of group.Instances ?? []) {
    if (i.InstanceId) {
      instances.push({ instanceId: i.InstanceId, lifecycleState: i.LifecycleState ?? 'Unknown', protectedFromScaleIn: i.ProtectedFromScaleIn });
    }
  }
  return { desired: group.DesiredCapacity, min: group.MinSize, max: group.MaxSize, instances };
}

/** SetDesiredCapacity with HonorCooldown false: the controller's target is exact, not a step to pace. */
export async function setDesiredCapacity(client: AutoScalingClient, autoScalingGroupName: string, desiredCapacity: number): Promise<void> {
  const { SetDesiredCapacityCommand } = autoScalingSdk();
  await client.send(new SetDesiredCapacityCommand({
    AutoScalingGroupName: autoScalingGroupName,
    DesiredCapacity: desiredCapacity,
    HonorCooldown: false,
  }));
}

/** DescribeAutoScalingInstances for one instance: its group's name, or undefined outside any group. */
export async function groupOfInstance(client: AutoScalingClient, instanceId: string): Promise<string | undefined> {
  const { DescribeAutoScalingInstancesCommand } = autoScalingSdk();
  const response = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  return response.AutoScalingInstances?.[0]?.AutoScalingGroupName;
}

/**
 * DescribeAutoScalingInstances for one instance: its lifecycle state (`Pending:Wait`, `InService`,
 * `Warmed:Pending:Wait`, ...), or undefined when no group knows it (terminated, or never launched).
 */
export async function lifecycleStateOf(client: AutoScalingClient, instanceId: string): Promise<string | undefined> {
  const { DescribeAutoScalingInstancesCommand } = autoScalingSdk();
  const response = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  return response.AutoScalingInstances?.find((i) => i.InstanceId === instanceId)?.LifecycleState;
}

/** CompleteLifecycleAction; `false` when there is no such action any more. */
export async function completeLifecycleAction(client: AutoScalingClient, action: LifecycleActionRef, result: LifecycleResult): Promise<boolean> {
  const { CompleteLifecycleActionCommand } = autoScalingSdk();
  try {
    await client.send(new CompleteLifecycleActionCommand({ ...actionTarget(action), LifecycleActionResult: result }));
    return true;
  } catch (error) {
    if (isNoActiveAction(error)) {
      return false;
    }
    throw error;
  }
}

/** RecordLifecycleActionHeartbeat; `false` when there is no such action any more. */
export async function recordHeartbeat(client: AutoScalingClient, action: LifecycleActionRef): Promise<boolean> {
  const { RecordLifecycleActionHeartbeatCommand } = autoScalingSdk();
  try {
    await client.send(new RecordLifecycleActionHeartbeatCommand(actionTarget(action)));
    return true;
  } catch (error) {
    if (isNoActiveAction(error)) {
      return false;
    }
    throw error;
  }
}

/**
 * The group's instances (DescribeAutoScalingGroups) and its warm pool (DescribeWarmPool, all pages).
 * Instances in `Terminating:Wait` are dated from the group's recent scaling activities.
 * A group that does not exist is an error, never an empty list (an empty list would make every runner
 * of the fleet look orphaned).
 */
export async function listGroupInstances(client: AutoScalingClient, autoScalingGroupName: string): Promise<GroupInstance[]> {
  const { DescribeAutoScalingGroupsCommand } = autoScalingSdk();
  const groups = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }));
  const group = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === autoScalingGroupName);
  if (!group) {
    throw new Error(`Auto Scaling group ${autoScalingGroupName} not found`);
  }
  const instances: GroupInstance[] = [];
  for (const i of group.Instances ?? []) {
    if (i.InstanceId) {
      instances.push({ instanceId: i.InstanceId, lifecycleState: i.LifecycleState ?? 'Unknown', protectedFromScaleIn: i.ProtectedFromScaleIn });
    }
  }
  for (const i of await warmPoolInstances(client, autoScalingGroupName)) {
    if (!instances.some((known) => known.instanceId === i.instanceId)) {
      instances.push(i);
    }
  }

  const draining = instances.filter((i) => i.lifecycleState === 'Terminating:Wait').map((i) => i.instanceId);
  if (draining.length === 0) {
    return instances;
  }
  const since = await terminationStarts(client, autoScalingGroupName, draining);
  return instances.map((i) => (since.has(i.instanceId) ? { ...i, terminatingSince: since.get(i.instanceId) } : i));
}

/** The instances of a group's warm pool (DescribeWarmPool, all pages). */
export async function warmPoolInstances(client: AutoScalingClient, autoScalingGroupName: string): Promise<GroupInstance[]> {
  const { DescribeWarmPoolCommand } = autoScalingSdk();
  const instances: GroupInstance[] = [];
  let nextToken: string | undefined;
  do {
    const warm = await client.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: autoScalingGroupName, NextToken: nextToken }));
    for (const i of warm.Instances ?? []) {
      if (i.InstanceId) {
        instances.push({ instanceId: i.InstanceId, lifecycleState: i.LifecycleState ?? 'Unknown' });
      }
    }
    nextToken = warm.NextToken;
  } while (nextToken);
  return instances;
}

/** SetInstanceProtection for one instance; a refusal because of the instance's state is an outcome, not an error. */
export async function setInstanceProtection(
  client: AutoScalingClient, autoScalingGroupName: string, instanceId: string, protectedFromScaleIn: boolean,
): Promise<InstanceActionOutcome> {
  const { SetInstanceProtectionCommand } = autoScalingSdk();
  return outcomeOf(() => client.send(new SetInstanceProtectionCommand({
    AutoScalingGroupName: autoScalingGroupName,
    InstanceIds: [instanceId],
    ProtectedFromScaleIn: protectedFromScaleIn,
  })), instanceStateRefusal);
}

/** TerminateInstanceInAutoScalingGroup; `at-min-size` when a decrement would go below the group's minimum. */
export async function terminateInstance(client: AutoScalingClient, instanceId: string, decrementDesiredCapacity: boolean): Promise<TerminateOutcome> {
  const { TerminateInstanceInAutoScalingGroupCommand } = autoScalingSdk();
  return outcomeOf(() => client.send(new TerminateInstanceInAutoScalingGroupCommand({
    InstanceId: instanceId,
    ShouldDecrementDesiredCapacity: decrementDesiredCapacity,
  })), classifyInstanceError);
}

/** SetInstanceHealth Unhealthy at once (ShouldRespectGracePeriod false): the group replaces the instance. */
export async function setUnhealthy(client: AutoScalingClient, instanceId: string): Promise<InstanceActionOutcome> {
  const { SetInstanceHealthCommand } = autoScalingSdk();
  return outcomeOf(() => client.send(new SetInstanceHealthCommand({
    InstanceId: instanceId,
    HealthStatus: 'Unhealthy',
    ShouldRespectGracePeriod: false,
  })), instanceStateRefusal);
}

/** Runs an Auto Scaling call on one instance; the refusals `classify` knows become outcomes, anything else is thrown. */
async function outcomeOf<T extends TerminateOutcome>(call: () => Promise<unknown>, classify: (error: unknown) => T | undefined): Promise<T | 'done'> {
  try {
    await call();
    return 'done';
  } catch (error) {
    const outcome = classify(error);
    if (outcome) {
      return outcome;
    }
    throw error;
  }
}

/** {@link classifyInstanceError} for calls that never decrement: a minimum-size refusal cannot be theirs. */
function instanceStateRefusal(error: unknown): InstanceActionOutcome | undefined {
  const outcome = classifyInstanceError(error);
  return outcome === 'at-min-size' ? undefined : outcome;
}

/**
 * What a ValidationError of a call on one instance means, from its message (Auto Scaling has no error
 * codes for these):
 * - "Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate
 *   group's min size constraint. ..." → `at-min-size`
 * - "The instance i-... is not in InService or EnteringStandby or Standby." (SetInstanceProtection on a
 *   terminating, pending or warm instance), or any refusal for the instance's state → `not-in-service`
 * - "Instance Id not found - No managed instance found for instance ID i-..." or "The instance i-... is
 *   not part of Auto Scaling group ..." → `not-found`
 * Anything else (throttling, access denied, an unknown message) is left to the caller as an error.
 */
export function classifyInstanceError(error: unknown): TerminateOutcome | undefined {
  const e = error as { name?: string; message?: string } | undefined;
  if (e?.name !== 'ValidationError') {
    return undefined;
  }
  const message = e.message ?? '';
  if (/desiredSize equals minSize|violate group's min size/i.test(message)) {
    return 'at-min-size';
  }
  if (/no managed instance found|instance id not found|is not part of auto ?scaling group/i.test(message)) {
    return 'not-found';
  }
  if (/\bis not in (InService|a valid state)|\bis (already )?(being )?terminat|\bin (the )?(Terminating|Warmed)[:\w]* state/i.test(message)) {
    return 'not-in-service';
  }
  return undefined;
}

/** When termination began for each of `instanceIds`, from the newest scaling activities (DescribeScalingActivities). */
async function terminationStarts(client: AutoScalingClient, groupName: string, instanceIds: string[]): Promise<Map<string, string>> {
  const { DescribeScalingActivitiesCommand } = autoScalingSdk();
  const found = new Map<string, string>();
  let nextToken: string | undefined;
  for (let page = 0; page < ACTIVITY_PAGES && found.size < instanceIds.length; page++) {
    const response = await client.send(
      new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: 100, NextToken: nextToken }),
    );
    for (const activity of response.Activities ?? []) {
      const instanceId = instanceIds.find((id) => !found.has(id) && isTerminationOf(activity, id));
      if (instanceId && activity.StartTime) {
        found.set(instanceId, activity.StartTime.toISOString());
      }
    }
    nextToken = response.NextToken;
    if (!nextToken) {
      break;
    }
  }
  return found;
}

/** "Terminating EC2 instance: i-0123456789abcdef0" */
function isTerminationOf(activity: Activity, instanceId: string): boolean {
  const description = activity.Description ?? '';
  return /terminating/i.test(description) && description.includes(instanceId);
}

function actionTarget(action: LifecycleActionRef) {
  return {
    AutoScalingGroupName: action.autoScalingGroupName,
    LifecycleHookName: action.hookName,
    ...(action.token ? { LifecycleActionToken: action.token } : { InstanceId: action.instanceId }),
  };
}

/** "No active Lifecycle Action found with instance ID i-..." (or "... with token ..."): nothing left to complete. */
function isNoActiveAction(error: unknown): boolean {
  const e = error as { name?: string; message?: string } | undefined;
  return e?.name === 'ValidationError' && /no active lifecycle action/i.test(e.message ?? '');
}
