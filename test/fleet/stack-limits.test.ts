import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { synthMistakes } from './helpers';
import { GitHubConnection, GitHubCredentials, GitHubRunnerFleet } from '../../src';
import { stackLimitProblems, STACK_RESOURCE_LIMIT, TEMPLATE_SIZE_LIMIT_BYTES } from '../../src/fleet/stack-limits';

/** A stack with `count` fleets of one connection; `context` goes to the app. */
function stackWithFleets(count: number, context: Record<string, unknown> = {}) {
  const app = new App({ context });
  const stack = new Stack(app, 'Runners', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
  const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
  const fleets = Array.from({ length: count }, (_, i) =>
    new GitHubRunnerFleet(stack, `Fleet${i}`, { vpc, github, labels: ['linux', `kind-${i}`], fleetName: `fleet-${i}` }));
  return { app, stack, fleets };
}

function synthError(app: App): string {
  try {
    app.synth();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected synthesis to fail');
}

describe('CloudFormation\'s per-stack limits, checked at synth', () => {
  test('the limits are CloudFormation\'s: 500 resources, a template of 1,000,000 bytes', () => {
    expect(STACK_RESOURCE_LIMIT).toBe(500);
    expect(TEMPLATE_SIZE_LIMIT_BYTES).toBe(1_000_000);
  });

  test('a stack within the limits synthesizes, and the count is the template\'s', () => {
    const { app, stack, fleets } = stackWithFleets(2);
    expect(stackLimitProblems(stack, fleets)).toEqual([]);
    const template = app.synth().getStackByName(stack.stackName).template;
    // One resource more and the check would fail: the limit set to the template's own count passes, one less fails.
    const count = Object.keys(template.Resources).length;
    expect(stackWithFleets(2, { '@aws-cdk/core:stackResourceLimit': count }).app.synth()).toBeDefined();
    const tooSmall = stackWithFleets(2, { '@aws-cdk/core:stackResourceLimit': count - 1 });
    expect(synthError(tooSmall.app)).toContain(`stack Runners would have ${count} resources, above CloudFormation's limit of ${count - 1} per stack`);
  });

  test('too many resources: the message names the limit, the figures and the fix, with the stack\'s path, before CloudFormation would refuse it', () => {
    const { app } = stackWithFleets(4, { '@aws-cdk/core:stackResourceLimit': 100 });
    const message = synthError(app);
    expect(message).toMatch(/\[Runners\] stack Runners would have \d+ resources, above CloudFormation's limit of 100 per stack: it holds 4 fleets of about \d+ resources each\. Move \d+ or more fleets into another stack/);
    expect(message).toContain('see https://cdk-github-runner-fleet.github.io/cdk-github-runner-fleet/guide/control-plane.html#many-fleets');
    // The number to move is enough: removing that many fleets' resources brings the stack within the limit.
    const [, resources, perFleet, move] = /would have (\d+) resources.*of about (\d+) resources each\. Move (\d+) or more/.exec(message)!.map(Number);
    expect(resources - move * perFleet).toBeLessThanOrEqual(100);
    expect(resources - (move - 1) * perFleet).toBeGreaterThan(100);
  });

  test('a template over the size limit is reported with its size, each fleet\'s share and the fix (10 fleets or more are measured)', () => {
    const { stack, fleets } = stackWithFleets(10);
    expect(stackLimitProblems(stack, fleets)).toEqual([]);
    const problems = stackLimitProblems(stack, fleets, 100_000);
    expect(problems).toHaveLength(1);
    const [, bytes, perFleet, move] = /would be about (\d+) bytes, above CloudFormation's limit of 100000: it holds 10 fleets of about (\d+) bytes each\. Move (\d+) or more fleets/.exec(problems[0])!.map(Number);
    // The size is the template's as the CDK writes it (indented by one space).
    const written = JSON.stringify((stack as any)._toCloudFormation(), undefined, 1).length;
    expect(bytes).toBe(written);
    expect(perFleet).toBe(Math.round(bytes / 10));
    expect(move).toBe(Math.ceil((bytes - 100_000) / perFleet));
  });

  test('below 10 fleets the template is not measured (far from the limit)', () => {
    const { stack, fleets } = stackWithFleets(3);
    expect(stackLimitProblems(stack, fleets, 1)).toEqual([]);
  });

  test('one validation per stack, whatever the number of fleets', () => {
    const { app } = stackWithFleets(3, { '@aws-cdk/core:stackResourceLimit': 50 });
    const message = synthError(app);
    expect(message.match(/above CloudFormation's limit of 50 per stack/g)).toHaveLength(1);
  });

  test('a fleet whose user data would pass EC2\'s 16 KB is reported at synth, with its path, beside its other mistakes', () => {
    const { stack } = stackWithFleets(0);
    const vpc = stack.node.findChild('Vpc') as ec2.Vpc;
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'Other', 'github-app-2');
    new GitHubRunnerFleet(stack, 'Big', {
      vpc,
      github: GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) }),
      labels: ['linux'],
      fleetName: 'big',
      extraCommands: Array.from({ length: 200 }, (_, i) => `echo ${'x'.repeat(60)} ${i}`),
      minCapacity: 5,
      maxCapacity: 2,
    });
    const mistakes = synthMistakes(stack);
    expect(mistakes.map((m) => m.path)).toEqual(['Runners/Big', 'Runners/Big']);
    expect(mistakes.map((m) => m.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^the user data would be about \d+ bytes, above EC2's limit of 16384 bytes/),
      expect.stringMatching(/^minCapacity \(5\) must not exceed maxCapacity \(2\)/),
    ]));
  });
});
