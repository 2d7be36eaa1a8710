import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { GitHubConnection, GitHubCredentials, GitHubRunnerFleet, GitHubRunnerFleetProps } from '../../src';

/** A stack with a VPC and a GitHub App secret, ready for fleets. */
export function testStack(): { stack: Stack; vpc: ec2.Vpc; github: GitHubConnection; secret: secretsmanager.ISecret } {
  const app = new App();
  const stack = new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
  const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
  return { stack, vpc, github, secret };
}

/** A fleet with defaults except what `overrides` says. */
export function fleetWith(overrides: Partial<GitHubRunnerFleetProps> = {}) {
  const ctx = testStack();
  const fleet = new GitHubRunnerFleet(ctx.stack, 'Fleet', {
    vpc: ctx.vpc,
    github: ctx.github,
    labels: ['linux', 'x64'],
    fleetName: 'linux-x64',
    ...overrides,
  });
  return { ...ctx, fleet };
}

/** Builds a fleet and expects it to throw; returns the message. */
export function failureOf(overrides: Partial<GitHubRunnerFleetProps>): string {
  try {
    fleetWith(overrides);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the fleet to fail');
}
