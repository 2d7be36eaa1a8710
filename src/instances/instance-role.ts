import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
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

export interface InstanceRoleProps {
  readonly fleetName: string;
  readonly secretPrefix: string;
  /** The control plane's instance agent: the only way the instance reaches Auto Scaling. */
  readonly agentFunctionArn: string;
}

/**
 * The runner instances' role: Systems Manager, the instance's own secret (read, then deleted by the
 * instance as soon as its runner is configured, so the registration does not outlive its use), and the
 * instance agent's Function URL. No Auto Scaling permission: the Auto Scaling calls that take an instance
 * id authorize against the group, so a role allowed them may act on every instance of the group. The
 * instance asks the agent instead, which acts on the calling instance only (src/lifecycle/instance-agent.ts).
 */
export function createInstanceRole(scope: Construct, id: string, props: InstanceRoleProps): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    description: `GitHub runner instances of fleet ${props.fleetName}`,
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
  });

  // An instance reads and deletes only the secret tagged with its own ARN: ec2:SourceInstanceARN is the
  // ARN of the instance whose role credentials sign the request, so another instance's secret does not match.
  const ownSecret = {
    resources: [instanceSecretArnPattern(props.secretPrefix)],
    conditions: {
      StringEquals: { [`secretsmanager:ResourceTag/${TagKeys.INSTANCE_ARN}`]: '${ec2:SourceInstanceARN}' },
    },
  };
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadOwnRunnerSecret', actions: ['secretsmanager:GetSecretValue'], ...ownSecret }));
  role.addToPolicy(new iam.PolicyStatement({ sid: 'DeleteOwnRunnerSecret', actions: ['secretsmanager:DeleteSecret'], ...ownSecret }));

  for (const statement of instanceAgentInvokeStatements(props.agentFunctionArn)) {
    role.addToPolicy(statement);
  }

  acknowledge(role, [
    ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'AmazonSSMManagedInstanceCore is the AWS-maintained minimum for Session Manager access and patching of the runner instances.'],
    [`AwsSolutions-IAM5[Resource::${nagArn('secretsmanager', `secret:${props.secretPrefix}*`)}]`, NAG_REASONS.secretPrefix],
  ]);
  return role;
}

/**
 * What an instance needs to call the instance agent, and no more: its Function URL with IAM auth. Since
 * October 2025 a Function URL also needs `lambda:InvokeFunction`; it is granted only through the URL
 * (`lambda:InvokedViaFunctionUrl`), because a direct invocation could carry a forged caller identity in
 * its event.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
 */
export function instanceAgentInvokeStatements(agentFunctionArn: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'InvokeInstanceAgentUrl',
      actions: ['lambda:InvokeFunctionUrl'],
      resources: [agentFunctionArn],
      conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': lambda.FunctionUrlAuthType.AWS_IAM } },
    }),
    new iam.PolicyStatement({
      sid: 'InvokeInstanceAgentThroughUrlOnly',
      actions: ['lambda:InvokeFunction'],
      resources: [agentFunctionArn],
      conditions: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
    }),
  ];
}
