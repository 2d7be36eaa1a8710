/**
 * What every integration app starts from: an app, its stack, a VPC with one NAT gateway, and the GitHub
 * connection to the organization named by the context value `github-org` (default `acme`), with the
 * GitHub App secret named by `github-secret-name`.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { GitHubConnection, GitHubCredentials } from '../src';

export interface IntegEnvironment {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly github: GitHubConnection;
}

export function integEnvironment(stackName: string): IntegEnvironment {
  const app = new App();
  const stack = new Stack(app, stackName);
  const org = app.node.tryGetContext('github-org') ?? 'acme';
  const secretName = app.node.tryGetContext('github-secret-name') ?? 'github-runner-fleet/integ/github-app';
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'GitHubApp', secretName);
  const github = GitHubConnection.organization(org, { credentials: GitHubCredentials.fromAppSecret(secret) });
  return { app, stack, vpc, github };
}
