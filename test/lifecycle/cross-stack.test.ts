import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { unpackFleetConfig } from '../../lambda/adapters/runtime';
import { parseFleetConfig, withDirectoryFleets } from '../../lambda/core/config';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet } from '../../src';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, TagKeys } from '../../src/contract';
import { controlPlaneNames } from '../../src/lifecycle/names';
import { synthMistakes } from '../fleet/helpers';

const ENV = { account: '123456789012', region: 'eu-west-1' };

/** An app with a control plane (and a VPC) in stack `Plane`, and `fleetStacks` stacks of `perStack` fleets each. */
function app(fleetStacks: number, perStack: number, options: { readonly planeFleets?: number; readonly webhook?: boolean } = {}) {
  const root = new App();
  const planeStack = new Stack(root, 'Plane', { env: ENV });
  const secret = secretsmanager.Secret.fromSecretNameV2(planeStack, 'AppSecret', 'github-app');
  const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
  const controlPlane = new GitHubRunnerControlPlane(planeStack, 'Runners', { github, webhook: options.webhook ? {} : undefined });
  const vpc = new ec2.Vpc(planeStack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  for (let i = 0; i < (options.planeFleets ?? 0); i++) {
    new GitHubRunnerFleet(planeStack, `Local${i}`, { vpc, controlPlane, labels: ['linux', `local-${i}`], fleetName: `local-${i}` });
  }
  const stacks: Stack[] = [];
  for (let s = 0; s < fleetStacks; s++) {
    const stack = new Stack(root, `Fleets${s}`, { env: ENV });
    for (let i = 0; i < perStack; i++) {
      new GitHubRunnerFleet(stack, `Fleet${i}`, { vpc, controlPlane, labels: ['linux', `team-${s}-${i}`], fleetName: `team-${s}-${i}` });
    }
    stacks.push(stack);
  }
  return { root, planeStack, controlPlane, stacks };
}

/** The runtime configuration of the control plane's registration function, as the functions decode it. */
function planeConfig(template: any): FleetRuntimeConfig {
  const fn = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function'
    && String(r.Properties.Description ?? '').startsWith('Registration'));
  return parseFleetConfig(unpackFleetConfig(deployed(fn.Properties.Environment.Variables[ENV_FLEET_CONFIG])));
}

/** A template value as CloudFormation would resolve it, with each reference replaced by a plausible value. */
function deployed(value: any): string {
  if (typeof value === 'string') return value;
  if (value['Fn::Join']) return value['Fn::Join'][1].map(deployed).join(value['Fn::Join'][0]);
  if (value.Ref) return `${value.Ref}-resolved`;
  if (value['Fn::GetAtt']) return `${value['Fn::GetAtt'].join('.')}-resolved`;
  if (value['Fn::ImportValue']) return 'imported-resolved';
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/** The fleet directory's parameters of a template: name and deployed value. */
function directoryParameters(template: any): Array<{ name: string; value: string }> {
  return Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::SSM::Parameter')
    .map((r) => ({ name: r.Properties.Name, value: deployed(r.Properties.Value) }));
}

describe('fleets in other stacks share one control plane', () => {
  test('a fleet in another stack synthesizes with the control plane\'s stack: no reference runs back into the fleet\'s stack', () => {
    const { root, planeStack, stacks } = app(1, 1);
    const assembly = root.synth();
    const plane = assembly.getStackByName(planeStack.stackName);
    const fleets = assembly.getStackByName(stacks[0].stackName);
    expect(JSON.stringify(plane.template)).not.toContain('Fn::ImportValue');
    expect(fleets.dependencies.map((d) => d.id)).toContain(plane.id);
    expect(plane.dependencies.map((d) => d.id)).not.toContain(fleets.id);
  });

  test('the fleet joins through a parameter of the control plane\'s directory, which the functions decode to the fleet as its props say', () => {
    const { root, planeStack, controlPlane, stacks } = app(1, 1);
    const assembly = root.synth();
    const names = controlPlaneNames(controlPlane.controlPlaneId);
    const config = planeConfig(assembly.getStackByName(planeStack.stackName).template);
    // The control plane's own configuration names the directory and no fleet of its own.
    expect(config.fleets).toEqual([]);
    expect(config.fleetDirectory).toBe(names.fleetDirectory);
    const parameters = directoryParameters(assembly.getStackByName(stacks[0].stackName).template);
    expect(parameters.map((p) => p.name)).toEqual([`${names.fleetDirectory}team-0-0`]);
    const { config: served, problems } = withDirectoryFleets(config, parameters);
    expect(problems).toEqual([]);
    expect(served.fleets).toHaveLength(1);
    expect(served.fleets[0]).toEqual(expect.objectContaining({
      name: 'team-0-0',
      autoScalingGroupName: 'github-runner-fleet-team-0-0',
      fleetLabel: 'fleet-team-0-0',
      labels: ['linux', 'team-0-0', 'fleet-team-0-0'],
      secretPrefix: `${names.secretPrefix}team-0-0/`,
      launchHookName: names.launchHookName,
      terminateHookName: names.terminateHookName,
    }));
    // The instance role's generated name is resolved in the fleet's own stack.
    expect(served.fleets[0].instanceRoleName).toMatch(/^Fleet0InstanceRole[0-9A-F]{8}-resolved$/);
  });

  test('the fleet\'s group carries the control plane\'s hooks and tag, and its instances may read their own secrets below the control plane\'s prefix', () => {
    const { root, controlPlane, stacks } = app(1, 1);
    root.synth();
    const names = controlPlaneNames(controlPlane.controlPlaneId);
    const template = Template.fromStack(stacks[0]);
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: names.launchHookName, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' });
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: names.terminateHookName, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: [{ Key: TagKeys.CONTROL_PLANE, Value: controlPlane.controlPlaneId, PropagateAtLaunch: false }, { Key: TagKeys.FLEET, Value: 'team-0-0', PropagateAtLaunch: true }],
    });
    expect(JSON.stringify(template.toJSON())).toContain(`secret:${names.secretPrefix}team-0-0/*`);
  });

  test('the control plane\'s rules match its hook names, and its functions may read the directory and the secrets below its prefix', () => {
    const { root, planeStack, controlPlane } = app(1, 1);
    root.synth();
    const names = controlPlaneNames(controlPlane.controlPlaneId);
    const template = Template.fromStack(planeStack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.autoscaling'], 'detail-type': ['EC2 Instance-launch Lifecycle Action'], 'detail': { LifecycleHookName: [names.launchHookName], Destination: ['AutoScalingGroup'] } },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.autoscaling'], 'detail-type': ['EC2 Instance-terminate Lifecycle Action'], 'detail': { LifecycleHookName: [names.terminateHookName] } },
    });
    const text = JSON.stringify(template.toJSON());
    const directoryPath = names.fleetDirectory.replace(/\/$/, '');
    const readers = Object.values<any>(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.PolicyDocument.Statement.some((s: any) => s.Sid === 'ReadFleetDirectory'));
    // Registration, deregistration, idle metric and the instance agent.
    expect(readers).toHaveLength(4);
    for (const policy of readers) {
      const statement = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'ReadFleetDirectory');
      expect(statement.Action).toBe('ssm:GetParametersByPath');
      expect(JSON.stringify(statement.Resource)).toContain(`:parameter${directoryPath}"`);
      expect(JSON.stringify(statement.Resource)).toContain(`:parameter${directoryPath}/*"`);
    }
    expect(text).toContain(`secret:${names.secretPrefix}*`);
    expect(text).not.toContain('team-0-0');
  });

  test('more fleets in more stacks change nothing in the control plane\'s stack', () => {
    const one = app(1, 1);
    const many = app(3, 4);
    const template = (a: ReturnType<typeof app>) => a.root.synth().getStackByName(a.planeStack.stackName).template;
    expect(template(many)).toEqual(template(one));
  });

  test('fleets of the control plane\'s own stack still travel in its functions\' environment, beside the directory', () => {
    const { root, planeStack, stacks } = app(1, 2, { planeFleets: 2 });
    const assembly = root.synth();
    const config = planeConfig(assembly.getStackByName(planeStack.stackName).template);
    expect(config.fleets.map((f) => f.name)).toEqual(['local-0', 'local-1']);
    const served = withDirectoryFleets(config, directoryParameters(assembly.getStackByName(stacks[0].stackName).template));
    expect(served.config.fleets.map((f) => f.name)).toEqual(['local-0', 'local-1', 'team-0-0', 'team-0-1']);
  });

  test('a fleet name used in two stacks of one control plane is refused', () => {
    const root = new App();
    const planeStack = new Stack(root, 'Plane', { env: ENV });
    const secret = secretsmanager.Secret.fromSecretNameV2(planeStack, 'AppSecret', 'github-app');
    const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
    const controlPlane = new GitHubRunnerControlPlane(planeStack, 'Runners', { github });
    const vpc = new ec2.Vpc(planeStack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new GitHubRunnerFleet(new Stack(root, 'A', { env: ENV }), 'Fleet', { vpc, controlPlane, labels: ['linux'], fleetName: 'same' });
    new GitHubRunnerFleet(new Stack(root, 'B', { env: ENV }), 'Fleet', { vpc, controlPlane, labels: ['linux'], fleetName: 'same' });
    expect(synthMistakes(planeStack)).toEqual([{
      path: 'Plane/Runners',
      message: 'fleetName "same" is used by two fleets of the control plane Plane/Runners: give each fleet its own fleetName',
    }]);
  });

  test('100 fleets in four stacks on one control plane: every stack within CloudFormation\'s limits, every fleet served', () => {
    const { root, planeStack, stacks } = app(4, 25, { webhook: true });
    const assembly = root.synth();
    const config = planeConfig(assembly.getStackByName(planeStack.stackName).template);
    const parameters = stacks.flatMap((s) => directoryParameters(assembly.getStackByName(s.stackName).template));
    expect(parameters).toHaveLength(100);
    const served = withDirectoryFleets(config, parameters);
    expect(served.problems).toEqual([]);
    expect(new Set(served.config.fleets.map((f) => f.name)).size).toBe(100);
    for (const stack of [planeStack, ...stacks]) {
      const template = assembly.getStackByName(stack.stackName).template;
      expect(Object.keys(template.Resources).length).toBeLessThanOrEqual(500);
      expect(JSON.stringify(template, undefined, 1).length).toBeLessThanOrEqual(1_000_000);
    }
  }, 180_000);
});

describe('a control plane of another app, imported by name', () => {
  function named(webhook = false) {
    const root = new App();
    const stack = new Stack(root, 'Plane', { env: ENV });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
    const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
    const controlPlane = new GitHubRunnerControlPlane(stack, 'Runners', { github, controlPlaneName: 'acme-runners', webhook: webhook ? {} : undefined });
    return { root, stack, controlPlane };
  }

  function importing() {
    const root = new App();
    const stack = new Stack(root, 'Fleets', { env: ENV });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
    const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
    const controlPlane = GitHubRunnerControlPlane.fromControlPlaneName(stack, 'Runners', { controlPlaneName: 'acme-runners', github });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const fleet = new GitHubRunnerFleet(stack, 'Fleet', { vpc, controlPlane, labels: ['linux', 'x64'], fleetName: 'imported' });
    return { root, stack, controlPlane, fleet };
  }

  test('a named control plane takes its name as its id, publishes its attributes, reads the directory, and needs no fleet of its own', () => {
    const { root, stack, controlPlane } = named();
    expect(controlPlane.controlPlaneId).toBe('acme-runners');
    const template = root.synth().getStackByName(stack.stackName).template;
    const published = Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::SSM::Parameter').map((r) => r.Properties.Name).sort();
    expect(published).toEqual([
      '/github-runner-fleet/acme-runners/control-plane/agent-function-arn',
      '/github-runner-fleet/acme-runners/control-plane/agent-url',
      '/github-runner-fleet/acme-runners/control-plane/dead-letter-queue-arn',
      '/github-runner-fleet/acme-runners/control-plane/deregistration-function-arn',
      '/github-runner-fleet/acme-runners/control-plane/idle-metric-function-arn',
      '/github-runner-fleet/acme-runners/control-plane/registration-function-arn',
    ]);
    expect(planeConfig(template).fleetDirectory).toBe('/github-runner-fleet/acme-runners/fleets/');
    // Spot fleets of other apps may join: their interruption warnings reach the deregistration function.
    Template.fromJSON(template).hasResourceProperties('AWS::Events::Rule', { EventPattern: { 'source': ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] } });
  });

  test('a fleet of another app joins the named control plane through its directory and finds its agent through the published parameters', () => {
    const { root, stack } = importing();
    const template = Template.fromStack(stack);
    const names = controlPlaneNames('acme-runners');
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: `${names.fleetDirectory}imported`, Type: 'String' });
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', { LifecycleHookName: names.launchHookName });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      Tags: [{ Key: TagKeys.CONTROL_PLANE, Value: 'acme-runners', PropagateAtLaunch: false }, { Key: TagKeys.FLEET, Value: 'imported', PropagateAtLaunch: true }],
    });
    // The agent's URL and ARN are deploy-time values of the published parameters.
    const parameters = template.toJSON().Parameters;
    const published = Object.values<any>(parameters).filter((p) => p.Type === 'AWS::SSM::Parameter::Value<String>').map((p) => p.Default).sort();
    expect(published).toEqual(expect.arrayContaining([
      '/github-runner-fleet/acme-runners/control-plane/agent-function-arn',
      '/github-runner-fleet/acme-runners/control-plane/agent-url',
    ]));
    // The group waits for its directory entry: the control plane knows the fleet before it launches anything.
    const group = Object.values<any>(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
    const entryId = Object.keys(template.findResources('AWS::SSM::Parameter', { Properties: { Name: `${names.fleetDirectory}imported` } }))[0];
    expect(group.DependsOn).toContain(entryId);
    // What the functions decode is the fleet.
    const { config, problems } = withDirectoryFleets(
      { version: 1, github: { scope: 'organization', owner: 'acme', apiUrl: 'https://api.github.com', secretArn: 'arn', auth: 'app' }, fleets: [], fleetDirectory: names.fleetDirectory },
      directoryParameters(root.synth().getStackByName(stack.stackName).template));
    expect(problems).toEqual([]);
    expect(config.fleets.map((f) => [f.name, f.secretPrefix, f.launchHookName])).toEqual([['imported', 'github-runner-fleet/acme-runners/imported/', names.launchHookName]]);
  });

  test('the imported control plane\'s name is checked, naming the prop, the value and the fix', () => {
    const root = new App();
    const stack = new Stack(root, 'Fleets', { env: ENV });
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
    const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
    // Every name of the imported control plane derives from its name: nothing can stand in, so it throws at once.
    expect(() => GitHubRunnerControlPlane.fromControlPlaneName(stack, 'Bad', { controlPlaneName: 'no spaces', github }))
      .toThrow('[Fleets/Bad] GitHubRunnerControlPlane.fromControlPlaneName: controlPlaneName ("no spaces") must be 1-64 letters, digits or hyphens, starting with a letter, and known at synthesis (e.g. "acme-runners")');
    // A control plane's own name is reported at synth with every other mistake.
    new GitHubRunnerControlPlane(stack, 'Named', { github, controlPlaneName: '9lives' });
    expect(synthMistakes(stack)).toEqual([{
      path: 'Fleets/Named',
      message: 'controlPlaneName ("9lives") must be 1-64 letters, digits or hyphens, starting with a letter, and known at synthesis (e.g. "acme-runners")',
    }]);
  });
});
