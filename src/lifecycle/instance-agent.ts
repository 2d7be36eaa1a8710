import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { InstanceAgentFunction } from '../generated/instance-agent-function';
import { autoScalingGroupArnPattern } from '../instances/instance-role';

/**
 * How many requests the agent serves at once, at most. Reserved, so that a flood of agent requests (a
 * job may own its instance and call the agent in a loop) never takes the concurrency the lifecycle
 * functions need to complete lifecycle actions; and held for it, so that the rest of the account can
 * never starve the instances' calls. An instance calls the agent a few times per job (protect,
 * unprotect, heartbeats while draining, leave), each call a fraction of a second: 20 serve hundreds of
 * instances. A throttled call answers 429, and the instance retries it.
 */
export const INSTANCE_AGENT_RESERVED_CONCURRENCY = 20;

/** The instance agent: what the control plane wires to it. */
export interface InstanceAgentResources {
  readonly function: lambda.Function;
  /** The Function URL (AWS_IAM): the instances sign their requests with their instance-profile credentials. */
  readonly url: lambda.FunctionUrl;
}

export interface InstanceAgentOptions {
  /** The control plane's runtime configuration (the fleets, their groups and instance role names). */
  readonly environment: Record<string, string>;
  /** Limits the Auto Scaling actions to the groups of this control plane (tag condition). */
  readonly groupCondition: Record<string, Record<string, string>>;
}

/**
 * The instance agent's function, its Function URL (AWS_IAM auth) and its grants: the five Auto Scaling
 * calls an instance makes on itself, on groups of this control plane, and the two Describe calls that
 * find the caller's group. The instances get no Auto Scaling permission of their own; they invoke this
 * URL, and the function acts on the calling instance only (lambda/handlers/instance-agent.ts).
 */
export function createInstanceAgent(scope: Construct, options: InstanceAgentOptions): InstanceAgentResources {
  const fn = new InstanceAgentFunction(scope, 'InstanceAgentFunction', {
    description: 'InstanceAgent: a runner instance\'s own Auto Scaling calls (protect, heartbeat, complete, leave), on that instance only',
    // Two or three Auto Scaling calls (the caller's group, the action, a leave's fallback) with the
    // client's retries; the instance waits for the answer.
    timeout: Duration.seconds(15),
    memorySize: 256,
    architecture: lambda.Architecture.ARM_64,
    environment: options.environment,
    reservedConcurrentExecutions: INSTANCE_AGENT_RESERVED_CONCURRENCY,
    logGroup: new logs.LogGroup(scope, 'InstanceAgentLogs', { retention: logs.RetentionDays.ONE_MONTH }),
  });
  fn.addToRolePolicy(new iam.PolicyStatement({
    sid: 'ManageCallerInstance',
    actions: [
      'autoscaling:SetInstanceProtection',
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'autoscaling:SetInstanceHealth',
    ],
    resources: [autoScalingGroupArnPattern()],
    conditions: options.groupCondition,
  }));
  fn.addToRolePolicy(new iam.PolicyStatement({
    sid: 'FindCallerGroup',
    actions: ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeWarmPool'],
    resources: ['*'],
  }));
  const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  return { function: fn, url };
}
