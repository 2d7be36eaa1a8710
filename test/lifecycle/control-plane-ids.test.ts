import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet } from '../../src';

/** One stack, its fleets declared in the order given; each fleet names its connection. */
function stackWith(order: Array<'a' | 'b' | 'c'>, connections: 'one' | 'two') {
  const app = new App();
  const stack = new Stack(app, 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
  const acme = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
  const other = connections === 'two'
    ? GitHubConnection.repository('other', 'infra', { credentials: GitHubCredentials.fromAppSecret(secret) })
    : acme;
  const fleets = {
    a: () => new GitHubRunnerFleet(stack, 'A', { vpc, github: acme, labels: ['a'], fleetName: 'a' }),
    b: () => new GitHubRunnerFleet(stack, 'B', { vpc, github: other, labels: ['b'], fleetName: 'b', instanceType: new ec2.InstanceType('m7g.large') }),
    c: () => new GitHubRunnerFleet(stack, 'C', { vpc, github: acme, labels: ['c'], fleetName: 'c' }),
  };
  for (const name of order) {
    fleets[name]();
  }
  return { stack, template: Template.fromStack(stack) };
}

/** For each control plane, by its connection's owner: its construct id, tag value and the logical ids under it. */
function planes(stack: Stack) {
  return Object.fromEntries(stack.node.children
    .filter((c): c is GitHubRunnerControlPlane => c instanceof GitHubRunnerControlPlane)
    .map((p) => [p.github.owner, {
      id: p.node.id,
      controlPlaneId: p.controlPlaneId,
      logicalIds: p.node.findAll().filter((c): c is CfnResource => c instanceof CfnResource).map((c) => stack.getLogicalId(c)).sort(),
    }]));
}

/** Logical ids of the resources whose replacement would lose state or interrupt the fleets. */
function statefulIds(template: Template): Record<string, string[]> {
  const types = ['AWS::Lambda::Function', 'AWS::Lambda::Url', 'AWS::SQS::Queue', 'AWS::Logs::LogGroup', 'AWS::Events::Rule',
    'AWS::AutoScaling::AutoScalingGroup', 'AWS::DynamoDB::Table', 'AWS::IAM::Role'];
  return Object.fromEntries(types.map((type) => [type, Object.keys(template.findResources(type)).sort()]));
}

describe('control planes created for a connection: construct ids from the connection, not from declaration order', () => {
  test.each([['two connections', 'two'], ['one connection', 'one']] as const)('%s: fleets declared in another order replace no resource', (_name, connections) => {
    const before = stackWith(['a', 'b', 'c'], connections);
    const after = stackWith(['b', 'c', 'a'], connections);
    // Each connection keeps its control plane: the same construct id, tag value and resources.
    expect(planes(after.stack)).toEqual(planes(before.stack));
    expect(statefulIds(after.template)).toEqual(statefulIds(before.template));
    expect(Object.keys(after.template.toJSON().Resources).sort()).toEqual(Object.keys(before.template.toJSON().Resources).sort());
    expect(Object.keys(planes(before.stack))).toHaveLength(connections === 'two' ? 2 : 1);
  });

  test('the id is a contract: pinned for a known connection (changing what it hashes replaces users\' resources)', () => {
    const { stack } = stackWith(['a'], 'one');
    expect(planes(stack).acme.id).toBe('GitHubRunnerControlPlaneCFF68106');
    expect(planes(stack).acme.controlPlaneId).toMatch(/^TestStack-GitHubRunnerControlPlaneCFF68106-[0-9A-F]{8}$/);
  });

  test.each([
    ['another owner', (s: secretsmanager.ISecret) => GitHubConnection.organization('acme2', { credentials: GitHubCredentials.fromAppSecret(s) })],
    ['another host', (s: secretsmanager.ISecret) => GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(s), apiUrl: 'https://ghe.example.com/api/v3' })],
    ['a token instead of an App', (s: secretsmanager.ISecret) => GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromPersonalAccessTokenSecret(s) })],
    ['a repository of the owner', (s: secretsmanager.ISecret) => GitHubConnection.repository('acme', 'infra', { credentials: GitHubCredentials.fromAppSecret(s) })],
  ])('%s: another control plane, with another id', (_name, connection) => {
    const app = new App();
    const stack = new Stack(app, 'TestStack');
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
    const base = GitHubRunnerControlPlane.forConnection(stack, GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) }));
    const changed = GitHubRunnerControlPlane.forConnection(stack, connection(secret));
    expect(changed).not.toBe(base);
    expect(changed.node.id).not.toBe(base.node.id);
  });

  test('another credentials secret: another control plane; a secret made in the stack is identified by its place, not its creation order', () => {
    const ids = (order: Array<'x' | 'y'>) => {
      const stack = new Stack(new App(), 'TestStack');
      const secrets = {
        x: () => new secretsmanager.Secret(stack, 'X'),
        y: () => new secretsmanager.Secret(stack, 'Y'),
      };
      const made = Object.fromEntries(order.map((k) => [k, secrets[k]()]));
      return Object.fromEntries(order.map((k) => [k, GitHubRunnerControlPlane.forConnection(stack,
        GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(made[k]) })).node.id]));
    };
    const first = ids(['x', 'y']);
    expect(first.x).not.toBe(first.y);
    expect(ids(['y', 'x'])).toEqual(first);
  });

  test('an id taken by another construct: a clear error', () => {
    const stack = new Stack(new App(), 'TestStack');
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'AppSecret', 'github-app');
    new Construct(stack, 'GitHubRunnerControlPlaneCFF68106');
    expect(() => GitHubRunnerControlPlane.forConnection(stack, GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) })))
      .toThrow(/the control plane of a GitHub connection would be TestStack\/GitHubRunnerControlPlaneCFF68106, which is taken by another construct/);
  });
});
