import { IConstruct } from 'constructs';

/**
 * aws-cdk-lib's `Validations.ACKNOWLEDGED_RULES_METADATA_KEY`, written as its value: `Validations` exists
 * from aws-cdk-lib 2.251.0 only, and the library works with older versions (the peer range).
 */
const ACKNOWLEDGED_RULES_METADATA_KEY = 'aws:cdk:acknowledged-rules';

/**
 * Records, on a construct, why a cdk-nag AwsSolutions finding is by design, in CDK's own acknowledgement
 * metadata (`aws:cdk:acknowledged-rules`), which cdk-nag reads. The library needs no
 * dependency on cdk-nag, and users running cdk-nag see the reasons.
 *
 * The metadata is written directly rather than through `Validations.of().acknowledge()`, which refuses
 * finding ids with more than one `::` (cdk-nag's rendering of ARNs with `<AWS::Partition>`).
 */
export function acknowledge(scope: IConstruct, rules: Array<[id: string, reason: string]>): void {
  scope.node.addMetadata(ACKNOWLEDGED_RULES_METADATA_KEY, Object.fromEntries(rules));
}

/** cdk-nag's rendering of an ARN pattern built from the partition, region and account pseudo-parameters. */
export function nagArn(service: string, rest: string): string {
  return `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${rest}`;
}

export const NAG_REASONS = {
  lambdaBasicRole: 'AWSLambdaBasicExecutionRole only allows writing the function\'s own CloudWatch logs; it is the AWS-maintained minimum for a Lambda function.',
  nodeRuntime: 'The functions are bundled and tested against Node.js 22 (AWS SDK v3 in the runtime); the runtime is upgraded deliberately with the library, not implicitly.',
  describeStar: 'Auto Scaling Describe* and Secrets Manager ListSecrets support no resource-level permissions; they are read-only and return no secret values.',
  groupPattern: 'Auto Scaling group ARNs contain a generated id; the statement is limited to the groups tagged with this control plane\'s id by an autoscaling:ResourceTag condition.',
  secretPrefix: 'Per-instance secrets are created at run time with a random ARN suffix, so the resource is this fleet\'s name prefix; instances are further limited to the secret tagged with their own ARN.',
  controlPlaneSecrets: 'Per-instance secrets are created at run time with a random ARN suffix, so the resource is this control plane\'s name prefix, which holds the secrets of its fleets only.',
  fleetDirectory: 'The fleets of other stacks join through one SSM parameter each below this control plane\'s path; the functions read them by path (GetParametersByPath), read-only.',
} as const;
