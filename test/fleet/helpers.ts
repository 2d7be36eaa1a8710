import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { IConstruct } from 'constructs';
import { GitHubConnection, GitHubCredentials, GitHubRunnerFleet, GitHubRunnerFleetProps } from '../../src';

/** A stack with a VPC and a GitHub App secret, ready for fleets. */
export function testStack(): { app: App; stack: Stack; vpc: ec2.Vpc; github: GitHubConnection; secret: secretsmanager.ISecret } {
  const app = new App();
  const stack = new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
  const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
  return { app, stack, vpc, github, secret };
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

/** One mistake of the synth report: the construct's path and the message. */
export interface Mistake {
  readonly path: string;
  readonly message: string;
}

const REPORT_HEADER = 'Validation failed with the following errors:';

/**
 * Synthesizes the app of `scope` (as `cdk synth` does) and returns the mistakes aws-cdk-lib reports,
 * each with its construct's path; none when synthesis succeeds. Any other failure is rethrown.
 */
export function synthMistakes(scope: IConstruct): Mistake[] {
  const app = scope.node.root as App;
  try {
    app.synth({ force: true });
  } catch (e) {
    const text = (e as Error).message;
    if (!text.startsWith(REPORT_HEADER)) {
      throw e;
    }
    return text.slice(REPORT_HEADER.length).split('\n').map((l) => l.trim()).filter((l) => l !== '').map((line) => {
      const match = /^\[([^\]]*)\] (.*)$/.exec(line);
      if (!match) {
        throw new Error(`not a line of the synth report: ${line}`);
      }
      return { path: match[1], message: match[2] };
    });
  }
  return [];
}

/**
 * Builds a fleet (which must not throw), synthesizes, and expects the fleet's mistakes in the synth
 * report, under its path `TestStack/Fleet`; returns their messages, one per line.
 */
export function failureOf(overrides: Partial<GitHubRunnerFleetProps>): string {
  const { fleet } = fleetWith(overrides);
  const mistakes = synthMistakes(fleet);
  const own = mistakes.filter((m) => m.path === 'TestStack/Fleet');
  if (own.length === 0) {
    throw new Error(`expected the fleet to be refused at synth, got ${mistakes.length === 0 ? 'no mistake' : JSON.stringify(mistakes)}`);
  }
  return own.map((m) => m.message).join('\n');
}
