import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import fc from 'fast-check';
import { unpackFleetConfig } from '../../lambda/adapters/runtime';
import { parseFleetConfig } from '../../lambda/core/config';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet, RunnerMode } from '../../src';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, FleetRuntimeEntry } from '../../src/contract';
import { RUNTIME_CONFIG_SCHEMA } from '../../src/contract/runtime-schema';
import { controlPlaneNames } from '../../src/lifecycle/names';
import { encodeRuntimeConfig, toWire } from '../../src/lifecycle/runtime-config';

/** The deployed value of an encoded configuration: each deploy-time part replaced by what `deployed` says. */
function deploy(stack: Stack, encoded: string, deployed: (part: unknown) => string): string {
  const resolved = stack.resolve(encoded);
  if (typeof resolved === 'string') {
    return resolved;
  }
  const [separator, parts] = resolved['Fn::Join'] as [string, unknown[]];
  return parts.map((p) => (typeof p === 'string' ? p : deployed(p))).join(separator);
}

/** What the functions decode an entry to: the encoder leaves out what is at its default. */
const DEFAULTS = { idleTarget: 0, os: 'linux', architecture: 'x64', directScaleOut: false };

/** A fleet entry's fields, some of them deploy-time values (CloudFormation parameters here). */
const fleetArb = fc.record({
  labels: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,14}$/), { minLength: 0, maxLength: 3 }),
  persistent: fc.boolean(),
  group: fc.constantFrom('default', 'id', 'name', 'both'),
  graceSeconds: fc.nat(86_400),
  drainSeconds: fc.nat(172_800),
  idleTarget: fc.option(fc.nat(20), { nil: undefined }),
  architecture: fc.constantFrom(undefined, 'x64', 'arm64'),
  directScaleOut: fc.option(fc.boolean(), { nil: undefined }),
  deployTimeRole: fc.boolean(),
  deployTimeGroup: fc.boolean(),
});

const configArb = fc.record({
  fleets: fc.array(fleetArb, { minLength: 1, maxLength: 40 }),
  scope: fc.constantFrom('organization', 'repository', 'enterprise'),
  auth: fc.constantFrom('app', 'token'),
  webhook: fc.boolean(),
  deployTimeSecret: fc.boolean(),
});

type ConfigSample = typeof configArb extends fc.Arbitrary<infer T> ? T : never;

/** Builds the configuration a control plane would encode, and the one the functions should decode. */
function build(sample: ConfigSample) {
  const stack = new Stack(new App(), 'S');
  const deployedValues = new Map<string, string>();
  const deployTime = (name: string, value: string): string => {
    const param = new CfnParameter(stack, name, { type: 'String' });
    deployedValues.set(name, value);
    return param.valueAsString;
  };
  const literalOrDeployTime = (isDeployTime: boolean, name: string, value: string) => (isDeployTime ? deployTime(name, value) : value);
  const fleets: FleetRuntimeEntry[] = [];
  const expected: FleetRuntimeEntry[] = [];
  sample.fleets.forEach((f, i) => {
    const name = `fleet-${i}`;
    // An IAM role name at its longest (64 characters).
    const roleName = `S-Fleet${i}InstanceRole`.padEnd(64, 'X');
    const entry: FleetRuntimeEntry = {
      name,
      autoScalingGroupName: literalOrDeployTime(f.deployTimeGroup, `Group${i}`, `S-Fleet${i}Group-ABC`),
      instanceRoleName: literalOrDeployTime(f.deployTimeRole, `Role${i}`, roleName),
      fleetLabel: `fleet-${name}`,
      labels: [...f.labels.filter((l) => l !== `fleet-${name}`), `fleet-${name}`],
      mode: f.persistent ? 'persistent' : 'ephemeral',
      runnerGroupId: f.group === 'id' || f.group === 'both' ? 7 + i : f.group === 'default' ? 1 : undefined,
      runnerGroupName: f.group === 'name' || f.group === 'both' ? `Builders ${i}` : undefined,
      secretPrefix: `github-runner-fleet/${name}/`,
      offlineGraceSeconds: f.graceSeconds,
      drainTimeoutSeconds: f.drainSeconds,
      idleTarget: f.idleTarget,
      os: 'linux',
      architecture: f.architecture,
      directScaleOut: f.directScaleOut,
    };
    fleets.push(entry);
    expected.push(withoutUndefined({
      ...DEFAULTS,
      ...withoutUndefined(entry),
      autoScalingGroupName: f.deployTimeGroup ? `S-Fleet${i}Group-ABC` : entry.autoScalingGroupName,
      instanceRoleName: roleName,
    }) as FleetRuntimeEntry);
  });
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:github-app-AbCdEf';
  const config: FleetRuntimeConfig = {
    version: 1,
    github: {
      scope: sample.scope as FleetRuntimeConfig['github']['scope'],
      owner: 'acme',
      repo: sample.scope === 'repository' ? 'infra' : undefined,
      apiUrl: 'https://api.github.com',
      secretArn: literalOrDeployTime(sample.deployTimeSecret, 'Secret', secretArn),
      auth: sample.auth as FleetRuntimeConfig['github']['auth'],
    },
    fleets,
    webhook: sample.webhook
      ? { tableName: deployTime('Table', 'S-WebhookJobs-1A2B3C'), secretArn: deployTime('WebhookSecret', `${secretArn}-webhook`), maxBodyBytes: 262_144 }
      : undefined,
  };
  const expectedConfig = withoutUndefined({
    ...config,
    github: withoutUndefined({ ...config.github, secretArn }),
    fleets: expected,
    webhook: config.webhook && { ...config.webhook, tableName: 'S-WebhookJobs-1A2B3C', secretArn: `${secretArn}-webhook` },
  });
  const deployed = (part: unknown) => {
    const ref = (part as { Ref?: string }).Ref;
    if (ref === undefined || !deployedValues.has(ref)) {
      throw new Error(`unexpected deploy-time part ${JSON.stringify(part)}`);
    }
    return deployedValues.get(ref)!;
  };
  return { stack, config, expectedConfig, deployed };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

describe('the runtime configuration: one schema, encoded by the construct and decoded by the functions', () => {
  test('property: 1-40 fleets, every option, plain or gzipped: what the functions decode is what the construct meant', () => {
    const forms = new Set<string>();
    fc.assert(fc.property(configArb, (sample) => {
      const { stack, config, expectedConfig, deployed } = build(sample);
      let encoded: string;
      try {
        encoded = encodeRuntimeConfig(stack, config);
      } catch (e) {
        // Too large even gzipped: refused at synthesis, never truncated.
        expect((e as Error).message).toMatch(/need about \d+ bytes of Lambda environment \(the limit is 4096\): /);
        forms.add('refused');
        return;
      }
      const raw = deploy(stack, encoded, deployed);
      forms.add(raw.includes('"fleetsGzip"') ? 'gzipped' : 'plain');
      expect(parseFleetConfig(unpackFleetConfig(raw))).toEqual(expectedConfig);
    }), { numRuns: 150 });
    // Both sides of the gzip threshold were crossed.
    expect(forms).toContain('plain');
    expect(forms).toContain('gzipped');
  });

  test.each([
    ['1 fleet, no webhook: plain', 1, false, false],
    ['40 fleets with a webhook: gzipped, the webhook section kept', 40, true, true],
    ['12 fleets without a webhook: gzipped', 12, false, true],
  ])('%s', (_name, count, webhook, gzipped) => {
    const sample: ConfigSample = {
      fleets: Array.from({ length: count }, (_, i) => ({
        labels: ['linux', `pool-${i}`],
        persistent: i % 2 === 1,
        group: 'both',
        graceSeconds: 900,
        drainSeconds: 7200,
        idleTarget: i % 3,
        architecture: i % 2 ? 'arm64' : 'x64',
        directScaleOut: i % 2 === 0,
        deployTimeRole: i < 10,
        deployTimeGroup: false,
      })),
      scope: 'organization',
      auth: 'app',
      webhook,
      deployTimeSecret: true,
    };
    const { stack, config, expectedConfig, deployed } = build(sample);
    const raw = deploy(stack, encodeRuntimeConfig(stack, config), deployed);
    expect(raw.includes('"fleetsGzip"')).toBe(gzipped);
    const decoded = parseFleetConfig(unpackFleetConfig(raw));
    expect(decoded).toEqual(expectedConfig);
    expect(decoded.webhook !== undefined).toBe(webhook);
  });

  test('a field the schema does not describe fails synthesis instead of being written and never read', () => {
    const { stack, config } = build({ fleets: [fc.sample(fleetArb, 1)[0]], scope: 'organization', auth: 'app', webhook: true, deployTimeSecret: false });
    const withExtra = { ...config, fleets: [{ ...config.fleets[0], installationId: 5 } as FleetRuntimeEntry] };
    expect(() => encodeRuntimeConfig(stack, withExtra)).toThrow('runtime configuration: fleets[0].installationId not described in src/contract/runtime-schema.ts');
    const webhookExtra = { ...config, webhook: { ...config.webhook!, route: '/x' } as FleetRuntimeConfig['webhook'] };
    expect(() => toWire(RUNTIME_CONFIG_SCHEMA, webhookExtra!, '')).toThrow('webhook.route not described');
  });

  test('the encoder writes the schema\'s fields in its order and leaves defaults out; the decoder restores them', () => {
    const { config } = build({ fleets: [fc.sample(fleetArb, 1)[0]], scope: 'organization', auth: 'app', webhook: false, deployTimeSecret: false });
    const fleet = { ...config.fleets[0], idleTarget: 0, os: 'linux', architecture: 'x64', directScaleOut: false };
    const wire = toWire(RUNTIME_CONFIG_SCHEMA, { ...config, fleets: [fleet] }, '');
    expect(Object.keys(wire)).toEqual(['version', 'github', 'fleets']);
    const written = (wire.fleets as Array<Record<string, unknown>>)[0];
    for (const key of ['idleTarget', 'os', 'architecture', 'directScaleOut']) {
      expect(written).not.toHaveProperty(key);
    }
    expect(parseFleetConfig(JSON.stringify(wire)).fleets[0]).toEqual(expect.objectContaining(DEFAULTS));
  });
});

describe('the runtime configuration as the constructs write it: props to the functions', () => {
  const fleetPropsArb = fc.record({
    persistent: fc.boolean(),
    arm: fc.boolean(),
    capacity: fc.constantFrom('on-demand', 'spot', 'warm-pool'),
    group: fc.constantFrom('default', 'id', 'name'),
    idleRunners: fc.nat(3),
    directScaleOut: fc.boolean(),
  });

  // Synthesizing a stack of many fleets takes seconds: the random runs stay small (the schema property
  // above covers 1-40 fleets), the twenty-fleet case is one fixed example.
  test('property: 1-8 fleets with and without a webhook, and 20 with one: each function decodes every fleet as its props say, and the webhook section', () => {
    fc.assert(fc.property(fc.array(fleetPropsArb, { minLength: 1, maxLength: 8 }), fc.boolean(), (fleets, webhook) => {
      // Many fleets exceed CloudFormation's 500 resources: the limit is not what this property is about.
      const app = new App({ context: { '@aws-cdk/core:stackResourceLimit': 0 } });
      const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
      const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
      const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
      const controlPlane = new GitHubRunnerControlPlane(stack, 'Runners', { github, webhook: webhook ? {} : undefined });
      fleets.forEach((f, i) => new GitHubRunnerFleet(stack, `Fleet${i}`, {
        vpc,
        controlPlane,
        fleetName: `f${i}`,
        labels: ['linux', `pool-${i}`],
        runnerMode: f.persistent ? RunnerMode.PERSISTENT : RunnerMode.EPHEMERAL,
        instanceType: new ec2.InstanceType(f.arm ? 'm7g.large' : 'm7i.large'),
        spot: f.capacity === 'spot' ? {} : undefined,
        warmPool: { enabled: f.capacity === 'warm-pool' },
        runnerGroupId: f.group === 'id' ? 3 : undefined,
        runnerGroupName: f.group === 'name' ? 'Builders' : undefined,
        // Without a webhook, a fleet must keep an idle runner (no demand signal to scale from zero).
        idleRunners: webhook ? f.idleRunners : Math.max(1, f.idleRunners),
        scaling: { directScaleOut: f.directScaleOut },
      }));
      const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      expect(functions).toHaveLength(webhook ? 5 : 4);
      for (const fn of functions) {
        const value = fn.Properties.Environment.Variables[ENV_FLEET_CONFIG];
        const raw = typeof value === 'string' ? value : value['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'deployed')).join('');
        const config = parseFleetConfig(unpackFleetConfig(raw));
        expect(config.webhook !== undefined).toBe(webhook);
        expect(config.fleets).toEqual(fleets.map((f, i) => ({
          name: `f${i}`,
          autoScalingGroupName: `github-runner-fleet-f${i}`,
          instanceRoleName: 'deployed',
          fleetLabel: `fleet-f${i}`,
          labels: ['linux', `pool-${i}`, `fleet-f${i}`],
          mode: f.persistent ? 'persistent' : 'ephemeral',
          ...(f.group === 'name' ? { runnerGroupName: 'Builders' } : { runnerGroupId: f.group === 'id' ? 3 : 1 }),
          secretPrefix: `github-runner-fleet/${controlPlane.controlPlaneId}/f${i}/`,
          offlineGraceSeconds: 900,
          drainTimeoutSeconds: 7200,
          idleTarget: webhook ? f.idleRunners : Math.max(1, f.idleRunners),
          os: 'linux',
          architecture: f.arm ? 'arm64' : 'x64',
          directScaleOut: f.directScaleOut,
          launchHookName: controlPlaneNames(controlPlane.controlPlaneId).launchHookName,
          terminateHookName: controlPlaneNames(controlPlane.controlPlaneId).terminateHookName,
        })));
      }
    }), {
      numRuns: 4,
      examples: [
        [[{ persistent: true, arm: true, capacity: 'spot', group: 'name', idleRunners: 0, directScaleOut: true }], true],
        // Twenty fleets and a webhook: the gzipped form, which once lost the webhook section. (Forty fleets'
        // generated instance role names alone exceed the 4 KB: refused at synthesis, as the schema property shows.)
        [Array.from({ length: 20 }, (_, i) => ({
          persistent: i % 2 === 0,
          arm: i % 3 === 0,
          capacity: (['on-demand', 'spot', 'warm-pool'] as const)[i % 3],
          group: (['default', 'id', 'name'] as const)[i % 3],
          idleRunners: i % 4,
          directScaleOut: i % 5 !== 0,
        })), true],
      ],
    });
  });
});
