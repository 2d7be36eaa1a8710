import { gunzipSync } from 'zlib';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { unpackFleetConfig } from '../../lambda/adapters/runtime';
import { parseFleetConfig } from '../../lambda/core/config';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet } from '../../src';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, FleetRuntimeEntry, TagKeys } from '../../src/contract';
import { controlPlaneNames } from '../../src/lifecycle/names';
import { synthMistakes, testStack } from '../fleet/helpers';

/** The configuration each function receives, with the fleets decompressed when they travel gzipped. */
function configsOf(template: Template): FleetRuntimeConfig[] {
  return Object.values(template.findResources('AWS::Lambda::Function'))
    .map((f: any) => f.Properties.Environment?.Variables?.[ENV_FLEET_CONFIG])
    .filter((v) => v !== undefined)
    .map((v) => {
      const text = typeof v === 'string' ? v : v['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
      const parsed = JSON.parse(text);
      if (parsed.fleetsGzip) {
        const fleets = JSON.parse(gunzipSync(Buffer.from(parsed.fleetsGzip, 'base64')).toString('utf8'));
        return { ...parsed, fleets: fleets.map((f: object, i: number) => ({ ...f, ...parsed.fleetValues?.[i] })) };
      }
      return parsed;
    });
}

function twoFleets(options: { explicit?: boolean } = {}) {
  const ctx = testStack();
  const controlPlane = options.explicit ? new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github }) : undefined;
  const x64 = new GitHubRunnerFleet(ctx.stack, 'X64', {
    vpc: ctx.vpc, github: controlPlane ? undefined : ctx.github, controlPlane, labels: ['linux', 'x64'], fleetName: 'linux-x64',
  });
  const arm64 = new GitHubRunnerFleet(ctx.stack, 'Arm64', {
    vpc: ctx.vpc,
    github: controlPlane ? undefined : ctx.github,
    controlPlane,
    labels: ['linux', 'arm64'],
    fleetName: 'linux-arm64',
    instanceType: new ec2.InstanceType('m7g.large'),
  });
  return { ...ctx, x64, arm64, template: Template.fromStack(ctx.stack) };
}

describe('GitHubRunnerControlPlane: shared by the fleets of a connection', () => {
  test('two fleets with one connection object share one control plane: four functions, one configuration with both fleets', () => {
    const { template, x64, arm64 } = twoFleets();
    expect(x64.controlPlane).toBe(arm64.controlPlane);
    expect(x64.registrationFunction).toBe(arm64.registrationFunction);
    template.resourceCountIs('AWS::Lambda::Function', 4);
    const configs = configsOf(template);
    expect(configs).toHaveLength(4);
    for (const config of configs) {
      expect(config.fleets.map((f) => f.name)).toEqual(['linux-x64', 'linux-arm64']);
      expect(config.fleets.map((f) => f.autoScalingGroupName)).toEqual(['github-runner-fleet-linux-x64', 'github-runner-fleet-linux-arm64']);
    }
    template.resourceCountIs('AWS::Events::Rule', 4);
    template.resourceCountIs('AWS::SQS::Queue', 1);
  });

  test('an explicit control plane serves the fleets it is given', () => {
    const { template, x64, stack } = twoFleets({ explicit: true });
    expect(x64.controlPlane.node.path).toBe('TestStack/Runners');
    expect((x64.controlPlane as GitHubRunnerControlPlane).fleetNames).toEqual(['linux-x64', 'linux-arm64']);
    template.resourceCountIs('AWS::Lambda::Function', 4);
    expect(stack.node.tryFindChild('GitHubRunnerControlPlane')).toBeUndefined();
  });

  test('two connections get two control planes', () => {
    const ctx = testStack();
    const other = GitHubConnection.organization('other', { credentials: GitHubCredentials.fromAppSecret(ctx.secret) });
    const a = new GitHubRunnerFleet(ctx.stack, 'A', { vpc: ctx.vpc, github: ctx.github, labels: ['a'], fleetName: 'a' });
    const b = new GitHubRunnerFleet(ctx.stack, 'B', { vpc: ctx.vpc, github: other, labels: ['b'], fleetName: 'b' });
    expect(a.controlPlane).not.toBe(b.controlPlane);
    expect(a.controlPlane.node.id).toMatch(/^GitHubRunnerControlPlane[0-9A-F]{8}$/);
    expect(b.controlPlane.node.id).toMatch(/^GitHubRunnerControlPlane[0-9A-F]{8}$/);
    expect(b.controlPlane.node.id).not.toBe(a.controlPlane.node.id);
    Template.fromStack(ctx.stack).resourceCountIs('AWS::Lambda::Function', 8);
  });

  test('two connection objects equal in scope, owner, host, authentication and secret share one control plane', () => {
    const ctx = testStack();
    const same = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(ctx.secret) });
    const a = new GitHubRunnerFleet(ctx.stack, 'A', { vpc: ctx.vpc, github: ctx.github, labels: ['a'], fleetName: 'a' });
    const b = new GitHubRunnerFleet(ctx.stack, 'B', { vpc: ctx.vpc, github: same, labels: ['b'], fleetName: 'b' });
    expect(b.controlPlane).toBe(a.controlPlane);
    expect((a.controlPlane as GitHubRunnerControlPlane).fleetNames).toEqual(['a', 'b']);
  });

  test('lifecycle rules match the hooks the control plane names, which every fleet\'s group carries; launches only into service', () => {
    const { template, x64 } = twoFleets();
    const names = controlPlaneNames(x64.controlPlane.controlPlaneId);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-launch Lifecycle Action'],
        'detail': { LifecycleHookName: [names.launchHookName], Destination: ['AutoScalingGroup'] },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        'detail': { LifecycleHookName: [names.terminateHookName] },
      },
    });
    // Both groups carry both hooks.
    for (const hook of [names.launchHookName, names.terminateHookName]) {
      expect(Object.keys(template.findResources('AWS::AutoScaling::LifecycleHook', { Properties: { LifecycleHookName: hook } }))).toHaveLength(2);
    }
  });

  test('two control planes in one account name their hooks apart: each rule takes its own fleets\' events only', () => {
    const ctx = testStack();
    const a = new GitHubRunnerControlPlane(ctx.stack, 'A', { github: ctx.github });
    const b = new GitHubRunnerControlPlane(ctx.stack, 'B', { github: ctx.github });
    expect(controlPlaneNames(a.controlPlaneId).launchHookName).not.toBe(controlPlaneNames(b.controlPlaneId).launchHookName);
    expect(controlPlaneNames(a.controlPlaneId).secretPrefix).not.toBe(controlPlaneNames(b.controlPlaneId).secretPrefix);
  });

  test('the groups carry the control plane tag, and lifecycle actions are allowed only on groups carrying it', () => {
    const { template, x64 } = twoFleets();
    const id = x64.controlPlane.controlPlaneId;
    expect(id).toMatch(/^TestStack-GitHubRunnerControlPlane/);
    const groups = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
    expect(groups).toHaveLength(2);
    for (const group of groups) {
      expect(group.Properties.Tags).toContainEqual({ Key: TagKeys.CONTROL_PLANE, Value: id, PropagateAtLaunch: false });
    }
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => [s.Action].flat().includes('autoscaling:CompleteLifecycleAction') && s.Sid?.startsWith('Complete'));
    expect(statements.map((s: any) => s.Sid).sort()).toEqual(['CompleteLaunchActions', 'CompleteTerminateActions']);
    for (const s of statements) {
      expect(s.Condition).toEqual({ StringEquals: { [`autoscaling:ResourceTag/${TagKeys.CONTROL_PLANE}`]: id } });
    }
  });

  test('only the minute tick reads the groups\' capacity and raises it, on groups carrying the control plane tag', () => {
    const { template, x64 } = twoFleets();
    const statementsOf = (roleId: RegExp) => Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => roleId.test(r.Ref)))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const tick = statementsOf(/IdleMetricFunction/);
    expect(tick).toContainEqual({ Sid: 'DescribeGroupCapacity', Effect: 'Allow', Action: 'autoscaling:DescribeAutoScalingGroups', Resource: '*' });
    const raise = tick.find((s: any) => s.Sid === 'RaiseDesiredCapacity');
    expect(raise).toEqual(expect.objectContaining({
      Effect: 'Allow',
      Action: 'autoscaling:SetDesiredCapacity',
      Condition: { StringEquals: { [`autoscaling:ResourceTag/${TagKeys.CONTROL_PLANE}`]: x64.controlPlane.controlPlaneId } },
    }));
    expect(JSON.stringify(raise.Resource)).toContain(':autoScalingGroup:*:autoScalingGroupName/*');
    // Registration and deregistration never change a group's size.
    const all = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(all.filter((s: any) => [s.Action].flat().includes('autoscaling:SetDesiredCapacity'))).toEqual([raise]);
  });

  test('secrets may be written and deleted under the control plane\'s prefix, which holds every fleet\'s, and no other', () => {
    const { template, x64 } = twoFleets();
    const id = x64.controlPlane.controlPlaneId;
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => ['WriteInstanceSecrets', 'DeleteInstanceSecrets', 'DeleteFailedRegistrationSecrets'].includes(s.Sid));
    expect(statements).toHaveLength(3);
    for (const s of statements) {
      expect(s.Resource['Fn::Join'][1].at(-1)).toBe(`:secret:github-runner-fleet/${id}/*`);
    }
    // Each fleet's secrets are below that prefix.
    for (const fleet of configsOf(template)[0].fleets) {
      expect(fleet.secretPrefix).toBe(`github-runner-fleet/${id}/${fleet.name}/`);
    }
  });

  test('the registration function may delete secrets (a failed registration\'s clean-up) only under the control plane\'s prefix', () => {
    const { template, stack, x64 } = twoFleets();
    const roleId = stack.getLogicalId((x64.registrationFunction.role as any).node.defaultChild);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    // Any action pattern that reaches DeleteSecret counts (secretsmanager:*, secretsmanager:Delete*, *).
    const reachesDelete = (a: string) => new RegExp(`^${a.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test('secretsmanager:DeleteSecret');
    const deletes = statements.filter((s: any) => s.Effect === 'Allow' && [s.Action ?? []].flat().some(reachesDelete));
    expect(deletes.map((s: any) => [s.Sid, s.Action])).toEqual([['DeleteFailedRegistrationSecrets', 'secretsmanager:DeleteSecret']]);
    expect(deletes[0].Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' },
        `:secret:github-runner-fleet/${x64.controlPlane.controlPlaneId}/*`]],
    });
    expect(deletes[0].Condition).toBeUndefined();
    // The same resources as the statement that lets it write them.
    expect(deletes[0].Resource).toEqual(statements.find((s: any) => s.Sid === 'WriteInstanceSecrets').Resource);
  });

  test('the terminate hook lasts three sweeps of the control plane', () => {
    const ctx = testStack();
    const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github, sweepInterval: Duration.minutes(10) });
    new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, controlPlane, labels: ['linux'] });
    const template = Template.fromStack(ctx.stack);
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: controlPlaneNames(controlPlane.controlPlaneId).terminateHookName, HeartbeatTimeout: 1800 });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
  });
});

describe('GitHubRunnerControlPlane: many fleets', () => {
  function manyFleets(count: number, labels: (i: number) => string[] = (i) => ['linux', 'x64', `pool-${i}`]) {
    const ctx = testStack();
    const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github });
    for (let i = 0; i < count; i++) {
      new GitHubRunnerFleet(ctx.stack, `Fleet${i}`, { vpc: ctx.vpc, controlPlane, labels: labels(i), fleetName: `fleet-${i}` });
    }
    return { ...ctx, controlPlane };
  }

  test('20 fleets fit: their configuration travels gzipped and holds every fleet', () => {
    const { stack } = manyFleets(20);
    const template = Template.fromStack(stack);
    const raw = Object.values(template.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables[ENV_FLEET_CONFIG];
    const text = raw['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    expect(JSON.parse(text)).toEqual(expect.objectContaining({ fleetsGzip: expect.any(String) }));
    expect(text.length).toBeLessThan(4096 - 256);
    const fleets: FleetRuntimeEntry[] = configsOf(template)[0].fleets;
    expect(fleets.map((f) => f.name)).toEqual(Array.from({ length: 20 }, (_, i) => `fleet-${i}`));
    expect(fleets[7].labels).toEqual(['linux', 'x64', 'pool-7', 'fleet-fleet-7']);
    // Each fleet's instance role name is a deploy-time value: it travels beside the gzipped fleets.
    expect(fleets.every((f) => f.instanceRoleName === 'TOKEN')).toBe(true);
  });

  test('with a webhook, the gzipped configuration keeps its webhook section (and every other field) as the functions decode it', () => {
    const ctx = testStack();
    const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github, webhook: {} });
    for (let i = 0; i < 20; i++) {
      new GitHubRunnerFleet(ctx.stack, `Fleet${i}`, { vpc: ctx.vpc, controlPlane, labels: ['linux', 'x64', `pool-${i}`], fleetName: `fleet-${i}` });
    }
    const functions = Object.values(Template.fromStack(ctx.stack).findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(5);
    for (const fn of functions) {
      const raw = fn.Properties.Environment.Variables[ENV_FLEET_CONFIG];
      // The deployed value, with each deploy-time part (table name, secret ARNs) as a literal stand-in.
      const deployed = raw['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'deployed')).join('');
      expect(deployed).toContain('fleetsGzip');
      const config = parseFleetConfig(unpackFleetConfig(deployed));
      expect(config.webhook).toEqual({ tableName: 'deployed', secretArn: 'deployed', maxBodyBytes: 262144 });
      expect(config.github).toEqual(expect.objectContaining({ scope: 'organization', owner: 'acme', auth: 'app' }));
      expect(config.fleets).toHaveLength(20);
      expect(config.fleets.every((f) => f.directScaleOut === true)).toBe(true);
    }
  });

  test('a single small fleet travels as plain JSON', () => {
    const { stack } = manyFleets(1);
    const text = JSON.stringify(Template.fromStack(stack).toJSON());
    expect(text).not.toContain('fleetsGzip');
    expect(configsOf(Template.fromStack(stack))[0].fleets).toHaveLength(1);
  });

  test('fails when even the gzipped configuration exceeds Lambda\'s 4 KB of environment', () => {
    // Random-looking labels do not compress.
    const noise = (i: number) => Array.from({ length: 8 }, (_, j) => ((i * 7919 + j * 104729) ** 3 % 1e12).toString(36).padStart(8, 'q'));
    const { stack } = manyFleets(60, noise);
    expect(() => Template.fromStack(stack)).toThrow(/the 60 fleets of control plane TestStack\/Runners need about \d+ bytes of Lambda environment \(the limit is 4096\): /);
  });
});

describe('GitHubRunnerControlPlane: bad input', () => {
  test('fails without github', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => new GitHubRunnerControlPlane(stack, 'Runners', {} as any)).toThrow('[S/Runners] GitHubRunnerControlPlane: github is missing');
    expect(() => new GitHubRunnerControlPlane(stack, 'NoProps', undefined as any)).toThrow('[S/NoProps] GitHubRunnerControlPlane: github is missing');
  });

  test.each([
    [Duration.seconds(90), 'sweepInterval (1 minute 30 seconds) must be whole minutes between 1 minute and 1 day'],
    [Duration.seconds(30), 'sweepInterval (30 seconds) must be whole minutes between 1 minute and 1 day'],
    [Duration.days(2), 'sweepInterval (2 days) must be whole minutes between 1 minute and 1 day'],
  ])('fails for sweepInterval %s', (sweepInterval, message) => {
    const ctx = testStack();
    const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github, sweepInterval });
    new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, controlPlane, labels: ['linux'] });
    expect(synthMistakes(ctx.stack)).toEqual([{ path: 'TestStack/Runners', message: expect.stringContaining(message) }]);
    // Built on the default meanwhile: the schedule every 5 minutes.
    expect(controlPlane.sweepInterval.toMinutes()).toBe(5);
  });

  test('fails at synth when a control plane serves no fleet', () => {
    const ctx = testStack();
    new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github });
    expect(() => Template.fromStack(ctx.stack)).toThrow(/GitHubRunnerControlPlane TestStack\/Runners serves no fleet: pass it to a GitHubRunnerFleet as controlPlane, or remove it/);
  });

  test('fails when two fleets of one control plane have the same name', () => {
    const ctx = testStack();
    new GitHubRunnerFleet(ctx.stack, 'A', { vpc: ctx.vpc, github: ctx.github, labels: ['a'], fleetName: 'linux' });
    const b = new GitHubRunnerFleet(ctx.stack, 'B', { vpc: ctx.vpc, github: ctx.github, labels: ['b'], fleetName: 'linux' });
    expect(synthMistakes(ctx.stack)).toEqual([{
      path: b.controlPlane.node.path,
      message: expect.stringMatching(/^fleetName "linux" is used by two fleets of the control plane TestStack\/GitHubRunnerControlPlane[0-9A-F]{8}: give each fleet its own fleetName$/),
    }]);
  });

  test('fails without github and controlPlane', () => {
    const ctx = testStack();
    expect(() => new GitHubRunnerFleet(ctx.stack, 'A', { vpc: ctx.vpc, labels: ['a'] })).toThrow(/^\[TestStack\/A\] github is missing: pass GitHubConnection.organization/);
  });

  test('fails when github and controlPlane name different connections', () => {
    const ctx = testStack();
    const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github });
    const other = GitHubConnection.organization('other', { credentials: GitHubCredentials.fromAppSecret(ctx.secret) });
    const fleet = new GitHubRunnerFleet(ctx.stack, 'A', { vpc: ctx.vpc, github: other, controlPlane, labels: ['a'] });
    // The fleet goes on with the control plane it was given.
    expect(fleet.controlPlane).toBe(controlPlane);
    expect(synthMistakes(ctx.stack)).toEqual([{
      path: 'TestStack/A',
      message: expect.stringContaining('github and controlPlane (TestStack/Runners) name different GitHub connections'),
    }]);
  });
});

test('two fleets answering to the same labels: a warning that names the tie-break', () => {
  const ctx = testStack();
  new GitHubRunnerFleet(ctx.stack, 'A', { vpc: ctx.vpc, github: ctx.github, labels: ['linux', 'Docker'], fleetName: 'small' });
  new GitHubRunnerFleet(ctx.stack, 'B', { vpc: ctx.vpc, github: ctx.github, labels: ['docker', 'linux'], fleetName: 'big', instanceType: new ec2.InstanceType('m7i.4xlarge') });
  new GitHubRunnerFleet(ctx.stack, 'C', { vpc: ctx.vpc, github: ctx.github, labels: ['docker', 'linux'], fleetName: 'graviton', instanceType: new ec2.InstanceType('m7g.large') });
  const warnings = Annotations.fromStack(ctx.stack).findWarning('*', Match.stringLikeRegexp('OverlappingFleets'));
  expect(warnings).toHaveLength(1);
  expect(JSON.stringify(warnings[0].entry.data)).toContain('fleets small and big answer to the same labels (docker, linux, x64)');
});

test('an enterprise connection and a runner group given by name reach the functions as such', () => {
  const ctx = testStack();
  const github = GitHubConnection.enterprise('acme-corp', { credentials: GitHubCredentials.fromPersonalAccessTokenSecret(ctx.secret) });
  new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, github, labels: ['linux'], fleetName: 'linux', runnerGroupName: 'Builders' });
  const config = configsOf(Template.fromStack(ctx.stack))[0];
  expect(config.github).toEqual(expect.objectContaining({ scope: 'enterprise', owner: 'acme-corp', auth: 'token' }));
  expect(config.fleets[0].runnerGroupName).toBe('Builders');
  expect(config.fleets[0].runnerGroupId).toBeUndefined();
});

test('the group is named after the fleet', () => {
  const { template } = twoFleets();
  template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { AutoScalingGroupName: 'github-runner-fleet-linux-x64' });
  template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { AutoScalingGroupName: Match.exact('github-runner-fleet-linux-arm64') });
});
