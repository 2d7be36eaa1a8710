import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  DescribeWarmPoolCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import type { AutoScalingPort, GroupInstance, LifecycleActionRef, LifecycleResult } from '../ports';

/** "No active Lifecycle Action found with instance ID ..." / "... with token ...": nothing to complete. */
function isNoActiveAction(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e.name === 'ValidationError' && /no active lifecycle action/i.test(e.message ?? '');
}

function actionInput(action: LifecycleActionRef) {
  return {
    AutoScalingGroupName: action.autoScalingGroupName,
    LifecycleHookName: action.hookName,
    ...(action.token ? { LifecycleActionToken: action.token } : { InstanceId: action.instanceId }),
  };
}

export function createAutoScalingPort(client: AutoScalingClient): AutoScalingPort {
  return {
    async completeLifecycleAction(action: LifecycleActionRef, result: LifecycleResult): Promise<boolean> {
      try {
        await client.send(new CompleteLifecycleActionCommand({ ...actionInput(action), LifecycleActionResult: result }));
        return true;
      } catch (error) {
        if (isNoActiveAction(error)) {
          return false;
        }
        throw error;
      }
    },
    async recordHeartbeat(action: LifecycleActionRef): Promise<boolean> {
      try {
        await client.send(new RecordLifecycleActionHeartbeatCommand(actionInput(action)));
        return true;
      } catch (error) {
        if (isNoActiveAction(error)) {
          return false;
        }
        throw error;
      }
    },
    async listGroupInstances(autoScalingGroupName: string): Promise<GroupInstance[]> {
      const groups = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }));
      const instances: GroupInstance[] = (groups.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => ({
        instanceId: i.InstanceId!,
        lifecycleState: i.LifecycleState ?? 'Unknown',
        protectedFromScaleIn: i.ProtectedFromScaleIn,
      }));
      let nextToken: string | undefined;
      do {
        const warm = await client.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: autoScalingGroupName, NextToken: nextToken }));
        for (const i of warm.Instances ?? []) {
          instances.push({ instanceId: i.InstanceId!, lifecycleState: i.LifecycleState ?? 'Unknown' });
        }
        nextToken = warm.NextToken;
      } while (nextToken);

      if (!instances.some((i) => i.lifecycleState === 'Terminating:Wait')) {
        return instances;
      }
      // When did each draining instance start terminating? From the group's recent scaling activities.
      const activities = await client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: autoScalingGroupName, MaxRecords: 100 }));
      return instances.map((instance) => {
        if (instance.lifecycleState !== 'Terminating:Wait') {
          return instance;
        }
        const activity = (activities.Activities ?? []).find((a) => /terminat/i.test(a.Description ?? '') && (a.Description ?? '').includes(instance.instanceId));
        return activity?.StartTime ? { ...instance, terminatingSince: activity.StartTime.toISOString() } : instance;
      });
    },
  };
}
