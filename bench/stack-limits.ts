/**
 * Benchmark (not a test): how many fleets one stack holds, and which limit comes first.
 *
 * Synthesizes stacks of 1 to N fleets of one GitHub connection (each fleet with three labels and the
 * defaults, as the example stack's), without and with a webhook, and prints per stack: its resources,
 * its template's size as the CDK writes it, the largest launch template's user data, and the size of the
 * control plane's configuration in its functions' environment. Then, for each limit, the largest number
 * of fleets within it:
 *
 * - Lambda's 4 KB of environment per function (the control plane's configuration of its fleets);
 * - CloudFormation's 500 resources per stack;
 * - CloudFormation's 1,000,000 bytes per template;
 * - EC2's 16 KB of user data per launch template (per fleet, whatever the count).
 *
 * Run: npx ts-node --transpile-only -P bench/tsconfig.json bench/stack-limits.ts
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet } from '../src';
import { markdownTable } from './lib/table';
import { ENV_FLEET_CONFIG } from '../src/contract';
import { STACK_RESOURCE_LIMIT, TEMPLATE_SIZE_LIMIT_BYTES } from '../src/fleet/stack-limits';
import { USER_DATA_LIMIT_BYTES } from '../src/instances/user-data';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES } from '../src/lifecycle/runtime-config';

interface Figures {
  readonly fleets: number;
  readonly resources: number;
  readonly templateBytes: number;
  readonly userDataBytes: number;
  readonly environmentBytes: number;
}

/** Synthesizes one stack of `count` fleets; undefined when synthesis refuses it (a limit is reached). */
function measure(count: number, webhook: boolean): Figures | undefined {
  // The resource limit is lifted here, so that the figures beyond it can be seen; the library's check uses it too.
  const app = new App({ context: { '@aws-cdk/core:stackResourceLimit': 100_000 } });
  const stack = new Stack(app, 'Runners', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-runner-fleet/github-app');
  const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
  const controlPlane = new GitHubRunnerControlPlane(stack, 'ControlPlane', { github, webhook: webhook ? {} : undefined });
  for (let i = 0; i < count; i++) {
    new GitHubRunnerFleet(stack, `Fleet${i}`, { vpc, controlPlane, labels: ['linux', 'x64', `team-${i}`], fleetName: `team-${i}-x64` });
  }
  let template: any;
  try {
    template = app.synth().getStackByName(stack.stackName).template;
  } catch {
    return undefined;
  }
  const resources = Object.values<any>(template.Resources);
  const userData = resources.filter((r) => r.Type === 'AWS::EC2::LaunchTemplate')
    .map((r) => deployedBytes(r.Properties.LaunchTemplateData.UserData['Fn::Base64']));
  const environment = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.[ENV_FLEET_CONFIG])
    .map((r) => Object.entries<unknown>(r.Properties.Environment.Variables).reduce((sum, [k, v]) => sum + k.length + deployedBytes(v), 0));
  return {
    fleets: count,
    resources: resources.length,
    templateBytes: JSON.stringify(template, undefined, 1).length,
    userDataBytes: Math.max(...userData),
    environmentBytes: Math.max(...environment),
  };
}

/** A template value's size once deployed: each reference (an ARN, a generated name) counted at 64 bytes. */
function deployedBytes(value: unknown): number {
  if (typeof value === 'string') {
    return Buffer.byteLength(value, 'utf8');
  }
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) {
    return join[1].reduce<number>((sum, part) => sum + deployedBytes(part), 0) + join[0].length * Math.max(0, join[1].length - 1);
  }
  return 64;
}

/** The largest count in 1..max for which `fits` holds, assuming it holds up to some count and not after. */
function largest(max: number, fits: (n: number) => boolean): number {
  let lo = 0;
  let hi = max + 1;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid; else hi = mid;
  }
  return lo;
}

/** The aws-cdk-lib the benchmark runs with. */
function cdkVersion(): string {
  return (JSON.parse(readFileSync(path.join(path.dirname(require.resolve('aws-cdk-lib')), 'package.json'), 'utf8')) as { version: string }).version;
}

function main(): void {
  console.log(`Stack limits: ${process.version}, aws-cdk-lib ${cdkVersion()}`);
  for (const webhook of [false, true]) {
    const rows: string[][] = [];
    for (const count of [1, 10, 20]) {
      const f = measure(count, webhook)!;
      rows.push([String(count), String(f.resources), String(f.templateBytes), String(Math.round(f.templateBytes / count)),
        String(f.userDataBytes), String(f.environmentBytes)]);
    }
    console.log(`\n${webhook ? 'With' : 'Without'} a webhook:\n`);
    console.log(markdownTable(['fleets', 'resources', 'template bytes', 'bytes per fleet', 'user data bytes (largest)', 'environment bytes (largest)'], rows));
    const cache = new Map<number, Figures | undefined>();
    const at = (n: number) => {
      if (!cache.has(n)) cache.set(n, measure(n, webhook));
      return cache.get(n);
    };
    const byEnvironment = largest(60, (n) => at(n) !== undefined);
    const ten = at(10)!;
    const twenty = at(20)!;
    const resourcesPerFleet = (twenty.resources - ten.resources) / 10;
    const bytesPerFleet = (twenty.templateBytes - ten.templateBytes) / 10;
    const byResources = Math.floor((STACK_RESOURCE_LIMIT - (ten.resources - 10 * resourcesPerFleet)) / resourcesPerFleet);
    const bySize = Math.floor((TEMPLATE_SIZE_LIMIT_BYTES - (ten.templateBytes - 10 * bytesPerFleet)) / bytesPerFleet);
    console.log(`\nfleets per stack within Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes of environment: ${byEnvironment}`);
    console.log(`fleets per stack within CloudFormation's ${STACK_RESOURCE_LIMIT} resources (${resourcesPerFleet} per fleet): ${byResources}`);
    console.log(`fleets per stack within CloudFormation's ${TEMPLATE_SIZE_LIMIT_BYTES} bytes (${Math.round(bytesPerFleet)} per fleet): ${bySize}`);
    console.log(`user data per launch template: ${ten.userDataBytes} of EC2's ${USER_DATA_LIMIT_BYTES} bytes`);
  }
}

main();
