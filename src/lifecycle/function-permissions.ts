import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { autoScalingGroupArnPattern, instanceSecretArnPattern } from '../instances/instance-role';

/** The control plane's functions whose roles this module grants. */
export interface ControlPlaneFunctions {
  readonly registration: lambda.IFunction;
  readonly deregistration: lambda.IFunction;
  readonly idleMetric: lambda.IFunction;
  /** With a webhook: its function, which runs the capacity controller on every delivery. */
  readonly webhook?: lambda.IFunction;
}

/** The secret statements, given their resources: the control plane's one secret prefix. */
export interface SecretPrefixGrants {
  addSecretPrefix(secretPrefix: string): void;
}

/**
 * What the registration, deregistration, idle-metric and webhook functions may do with Auto Scaling and
 * the per-instance secrets: groups only through `groupCondition` (the control plane's tag), secrets only
 * under the prefixes of the fleets that join (see {@link SecretPrefixGrants}).
 */
export function grantFunctionPermissions(
  functions: ControlPlaneFunctions,
  groupCondition: Record<string, Record<string, string>>,
): SecretPrefixGrants {
  const { registration, deregistration, idleMetric, webhook } = functions;
  // Per-fleet secret prefixes are added to the secret statements as fleets join.
  const writeSecrets = new iam.PolicyStatement({
    sid: 'WriteInstanceSecrets',
    actions: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource'],
  });
  registration.addToRolePolicy(writeSecrets);
  // A registration that fails after writing the instance's secret deletes it again (cleanUp).
  const cleanUpSecrets = new iam.PolicyStatement({ sid: 'DeleteFailedRegistrationSecrets', actions: ['secretsmanager:DeleteSecret'] });
  registration.addToRolePolicy(cleanUpSecrets);
  // The registration decides a duplicated or late launch event from what AWS says: the instance's
  // lifecycle state (is the action still pending?) and whether its secret exists already.
  const describeSecrets = new iam.PolicyStatement({ sid: 'DescribeInstanceSecrets', actions: ['secretsmanager:DescribeSecret'] });
  registration.addToRolePolicy(describeSecrets);
  registration.addToRolePolicy(new iam.PolicyStatement({
    sid: 'DescribeLaunchingInstances',
    actions: ['autoscaling:DescribeAutoScalingInstances'],
    resources: ['*'],
  }));
  registration.addToRolePolicy(new iam.PolicyStatement({
    sid: 'CompleteLaunchActions',
    actions: ['autoscaling:CompleteLifecycleAction'],
    resources: [autoScalingGroupArnPattern()],
    conditions: groupCondition,
  }));

  const deleteSecrets = new iam.PolicyStatement({ sid: 'DeleteInstanceSecrets', actions: ['secretsmanager:DeleteSecret'] });
  deregistration.addToRolePolicy(deleteSecrets);
  deregistration.addToRolePolicy(new iam.PolicyStatement({
    sid: 'ListInstanceSecrets',
    actions: ['secretsmanager:ListSecrets'],
    resources: ['*'],
  }));
  deregistration.addToRolePolicy(new iam.PolicyStatement({
    sid: 'CompleteTerminateActions',
    actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
    resources: [autoScalingGroupArnPattern()],
    conditions: groupCondition,
  }));
  deregistration.addToRolePolicy(new iam.PolicyStatement({
    sid: 'DescribeGroupInstances',
    actions: [
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
      'autoscaling:DescribeWarmPool',
      'autoscaling:DescribeScalingActivities',
    ],
    resources: ['*'],
  }));

  // The capacity controller (the minute tick, and the webhook on every delivery) reads the groups and
  // raises their desired capacity; only groups of this control plane (tag condition).
  for (const fn of [idleMetric, ...(webhook ? [webhook] : [])]) {
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DescribeGroupCapacity',
      actions: ['autoscaling:DescribeAutoScalingGroups'],
      resources: ['*'],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      sid: 'RaiseDesiredCapacity',
      actions: ['autoscaling:SetDesiredCapacity'],
      resources: [autoScalingGroupArnPattern()],
      conditions: groupCondition,
    }));
  }

  const prefixed = [writeSecrets, cleanUpSecrets, describeSecrets, deleteSecrets];
  return {
    addSecretPrefix: (secretPrefix) => prefixed.forEach((statement) => statement.addResources(instanceSecretArnPattern(secretPrefix))),
  };
}

/**
 * The functions may read the fleet directory: the SSM parameters of the fleets of other stacks, by path
 * (`GetParametersByPath` is authorized on the path itself; the parameters below it are named for clarity).
 */
export function grantFleetDirectory(functions: lambda.IFunction[], directory: string): void {
  const path = directory.replace(/\/$/, '');
  const statement = new iam.PolicyStatement({
    sid: 'ReadFleetDirectory',
    actions: ['ssm:GetParametersByPath'],
    resources: [
      `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter${path}`,
      `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter${path}/*`,
    ],
  });
  for (const fn of functions) {
    fn.addToRolePolicy(statement);
  }
}
