/**
 * The example stack: one VPC, the GitHub App secret, one control plane with a webhook, two fleets.
 */
import { CfnOutput, Duration, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet, RunnerMode } from '../../src';

export class ExampleRunnersStack extends Stack {
  public readonly fleets: GitHubRunnerFleet[];

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });
    // Put the App's credentials in after the first deployment:
    //   { "appId": "123456", "privateKey": "-----BEGIN RSA PRIVATE KEY-----...", "installationId": "7890" }
    const secret = new secretsmanager.Secret(this, 'GitHubAppSecret', {
      secretName: 'github-runner-fleet/example/github-app',
      description: 'GitHub App credentials for the runner fleets (JSON: appId, privateKey, installationId)',
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The GitHub App private key is rotated in GitHub; a new key is put into the secret by hand.',
    });
    // One control plane for both fleets, with the workflow_job webhook: queued jobs scale their fleet
    // within seconds, and fleets can shrink to zero. Give GitHub the URL and the webhook secret's value.
    const controlPlane = new GitHubRunnerControlPlane(this, 'Runners', {
      github: GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) }),
      webhook: {},
    });
    new CfnOutput(this, 'WebhookUrl', { value: controlPlane.webhookUrl! });
    new CfnOutput(this, 'WebhookSecretArn', { value: controlPlane.webhookSecret!.secretArn });

    const linux = new GitHubRunnerFleet(this, 'Linux', {
      vpc,
      controlPlane,
      fleetName: 'linux-x64',
      labels: ['linux', 'x64', 'docker'],
      idleRunners: 2,
      maxCapacity: 20,
      warmPool: { minSize: 2 },
    });
    const arm = new GitHubRunnerFleet(this, 'Arm', {
      vpc,
      controlPlane,
      fleetName: 'linux-arm64',
      labels: ['linux', 'arm64'],
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE),
      runnerMode: RunnerMode.PERSISTENT,
      // Scales from zero: a queued job brings a runner up.
      minCapacity: 0,
      idleRunners: 0,
      maxCapacity: 5,
      maxInstanceLifetime: Duration.days(3),
      warmPool: { poolState: autoscaling.PoolState.STOPPED },
    });
    this.fleets = [linux, arm];
  }
}

