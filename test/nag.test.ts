import { App, Stack, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { ExampleRunnersStack } from '../examples/typescript/stack';
import { GitHubConnection, GitHubCredentials, GitHubRunnerFleet, RunnerMode, RunnerOperatingSystem } from '../src';

function violations(app: App, stack: Stack): string[] {
  const report = new AwsSolutionsChecks(app).validateScope(stack);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
}

function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))));
}

describe('cdk-nag AwsSolutions', () => {
  test('the example stack has no unacknowledged finding', () => {
    const app = new App();
    const stack = new ExampleRunnersStack(app, 'Example', { env: { account: '123456789012', region: 'us-east-1' } });
    expect(violations(app, stack)).toEqual([]);
  });

  test('a repository-scoped, persistent, hibernated Ubuntu fleet has no unacknowledged finding', () => {
    const app = new App();
    const stack = new Stack(app, 'Other', { env: { account: '123456789012', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { flowLogs: { all: {} } });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'Pat', 'pat');
    new GitHubRunnerFleet(stack, 'Fleet', {
      vpc,
      github: GitHubConnection.repository('acme', 'infra', { credentials: GitHubCredentials.fromPersonalAccessTokenSecret(secret) }),
      labels: ['ubuntu'],
      operatingSystem: RunnerOperatingSystem.UBUNTU_24_04,
      runnerMode: RunnerMode.PERSISTENT,
      warmPool: { poolState: autoscaling.PoolState.HIBERNATED },
    });
    expect(violations(app, stack)).toEqual([]);
  });

  test('every acknowledgement the library makes carries a reason', () => {
    const app = new App();
    const stack = new ExampleRunnersStack(app, 'Example', { env: { account: '123456789012', region: 'us-east-1' } });
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length).toBeGreaterThan(30);
    }
  });

  test('the checks do find problems when acknowledgements are missing (the test can fail)', () => {
    const app = new App();
    const stack = new Stack(app, 'Bare', { env: { account: '123456789012', region: 'us-east-1' } });
    new secretsmanager.Secret(stack, 'Unrotated');
    expect(violations(app, stack).some((v) => v.startsWith('AwsSolutions-SMG4'))).toBe(true);
  });
});
