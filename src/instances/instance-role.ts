import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TagKeys } from '../contract';
import { acknowledge, NAG_REASONS, nagArn } from '../nag';

/** ARN pattern of any Auto Scaling group in this account and region; narrowed by tag conditions. */
export function autoScalingGroupArnPattern(): string {
  return `arn:${Aws.PARTITION}:autoscaling:${Aws.REGION}:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/*`;
}

/** ARN pattern of the per-instance secrets of a fleet (Secrets Manager appends a random suffix). */
export function instanceSecretArnPattern(secretPrefix: string): string {
  return `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretPrefix}*`;
}

/** A condition that limits Auto Scaling actions to the groups tagged with this fleet's name. */
export function fleetGroupCondition(fleetName: string): Record<string, Record<string, string>> {
  return { StringEquals: { [`autoscaling:ResourceTag/${TagKeys.FLEET}`]: fleetName } };
}

export interface InstanceRoleProps {
  readonly fleetName: string;
  readonly secretPrefix: string;
}

/**
 * The runner instances' role: Systems Manager, the instance's own secret, and the few Auto Scaling calls
 * its bootstrap makes on its own group.
 */
export function createInstanceRole(scope: Construct, id: string, props: InstanceRoleProps): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    description: `GitHub runner instances of fleet ${props.fleetName}`,
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
  });

  // An instance reads only the secret tagged with its own ARN: ec2:SourceInstanceARN is the ARN of the
  // instance whose role credentials sign the request, so another instance's secret does not match.
  role.addToPolicy(new iam.PolicyStatement({
    sid: 'ReadOwnRunnerSecret',
    actions: ['secretsmanager:GetSecretValue'],
    resources: [instanceSecretArnPattern(props.secretPrefix)],
    conditions: {
      StringEquals: { [`secretsmanager:ResourceTag/${TagKeys.INSTANCE_ARN}`]: '${ec2:SourceInstanceARN}' },
    },
  }));

  // The bootstrap completes its own launch action (warm-pool preparation, or ABANDON on failure),
  // protects itself while a job runs, holds its terminate action while a job runs and completes it once
  // its runner has stopped, and replaces itself after an ephemeral job.
  role.addToPolicy(new iam.PolicyStatement({
    sid: 'ManageOwnGroupMembership',
    actions: [
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
      'autoscaling:SetInstanceProtection',
      'autoscaling:SetInstanceHealth',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
    ],
    resources: [autoScalingGroupArnPattern()],
    conditions: fleetGroupCondition(props.fleetName),
  }));

  // Finds the instance's group name (not baked into user data: that would make a dependency cycle).
  // Describe calls have no resource-level permissions.
  role.addToPolicy(new iam.PolicyStatement({
    sid: 'FindOwnGroup',
    actions: ['autoscaling:DescribeAutoScalingInstances'],
    resources: ['*'],
  }));

  acknowledge(role, [
    ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'AmazonSSMManagedInstanceCore is the AWS-maintained minimum for Session Manager access and patching of the runner instances.'],
    [`AwsSolutions-IAM5[Resource::${nagArn('secretsmanager', `secret:${props.secretPrefix}*`)}]`, NAG_REASONS.secretPrefix],
    [`AwsSolutions-IAM5[Resource::${nagArn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*')}]`, NAG_REASONS.groupPattern],
    ['AwsSolutions-IAM5[Resource::*]', NAG_REASONS.describeStar],
  ]);
  return role;
}
