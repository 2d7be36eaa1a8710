import { gzipSync } from 'zlib';
import { Template } from 'aws-cdk-lib/assertions';
import { environmentFromContext, unpackFleetConfig } from '../../../lambda/adapters/runtime';
import { parseFleetConfig } from '../../../lambda/core/config';
import { GitHubRunnerControlPlane, GitHubRunnerFleet } from '../../../src';
import { ENV_FLEET_CONFIG } from '../../../src/contract';
import { testStack } from '../../fleet/helpers';

describe('environmentFromContext', () => {
  test.each([
    ['arn:aws:lambda:eu-west-1:123456789012:function:registration', { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }],
    ['arn:aws-cn:lambda:cn-north-1:210987654321:function:f:live', { partition: 'aws-cn', region: 'cn-north-1', accountId: '210987654321' }],
    ['arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:7', { partition: 'aws-us-gov', region: 'us-gov-west-1', accountId: '123456789012' }],
  ])('%s', (invokedFunctionArn, expected) => {
    expect(environmentFromContext({ invokedFunctionArn })).toEqual(expected);
  });

  test.each(['', 'nonsense', 'arn:aws:lambda:eu-west-1:1234:function:f', 'arn:aws:sqs:eu-west-1:123456789012:queue'])('refuses %p', (invokedFunctionArn) => {
    expect(() => environmentFromContext({ invokedFunctionArn })).toThrow(/cannot read partition, region and account/);
  });
});

describe('unpackFleetConfig: the configuration the constructs write, as the functions read it', () => {
  /** The deployed value of the control plane's configuration, with deploy-time parts filled in. */
  function deployedConfig(fleets: number): string {
    const ctx = testStack();
    const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github });
    for (let i = 0; i < fleets; i++) {
      new GitHubRunnerFleet(ctx.stack, `Fleet${i}`, { vpc: ctx.vpc, controlPlane, labels: ['linux', `pool-${i}`], fleetName: `fleet-${i}` });
    }
    const fn = Object.values(Template.fromStack(ctx.stack).findResources('AWS::Lambda::Function'))[0];
    const value = fn.Properties.Environment.Variables[ENV_FLEET_CONFIG];
    const parts: unknown[] = typeof value === 'string' ? [value] : value['Fn::Join'][1];
    return parts.map((p) => (typeof p === 'string' ? p : 'aws')).join('');
  }

  test.each([1, 3, 20])('%d fleets: every fleet arrives, whichever form the value took', (count) => {
    const raw = deployedConfig(count);
    const config = parseFleetConfig(unpackFleetConfig(raw));
    expect(config.fleets.map((f) => f.name)).toEqual(Array.from({ length: count }, (_, i) => `fleet-${i}`));
    expect(config.fleets.map((f) => f.labels[1])).toEqual(Array.from({ length: count }, (_, i) => `pool-${i}`));
    expect(config.github.owner).toBe('acme');
    // The instance roles' names are generated at deployment: they travel beside the gzipped fleets.
    expect(config.fleets.map((f) => f.instanceRoleName)).toEqual(Array.from({ length: count }, () => 'aws'));
    // One fleet travels plainly; three take more than 2 KB as plain JSON (each names its hooks) and travel gzipped.
    expect(raw.includes('fleetsGzip')).toBe(count > 1);
    expect(raw.includes('fleetValues')).toBe(count > 1);
  });

  test('plain JSON and non-JSON pass through for the parser to judge', () => {
    expect(unpackFleetConfig('{"version":1}')).toBe('{"version":1}');
    expect(unpackFleetConfig('not json "fleetsGzip"')).toBe('not json "fleetsGzip"');
    expect(unpackFleetConfig(undefined)).toBeUndefined();
  });

  test('deploy-time values are merged into their fleets, in order; a fleet without any keeps its fields', () => {
    const fleets = [{ name: 'a', instanceRoleName: 'synth' }, { name: 'b' }];
    const raw = JSON.stringify({
      version: 1,
      github: {},
      fleetsGzip: gzipSync(Buffer.from(JSON.stringify(fleets))).toString('base64'),
      fleetValues: [{ instanceRoleName: 'Stack-ARole-1' }, {}],
    });
    expect(JSON.parse(unpackFleetConfig(raw)!)).toEqual({
      version: 1, github: {}, fleets: [{ name: 'a', instanceRoleName: 'Stack-ARole-1' }, { name: 'b' }],
    });
  });

  test('fleets that are not gzipped JSON fail with the variable named', () => {
    expect(() => unpackFleetConfig(JSON.stringify({ version: 1, github: {}, fleetsGzip: 'bm90IGd6aXA=' })))
      .toThrow(/^RUNNER_FLEET_CONFIG: fleetsGzip is not gzipped JSON/);
  });
});
