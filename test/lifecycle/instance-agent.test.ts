import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ExampleRunnersStack } from '../../examples/typescript/stack';
import { unpackFleetConfig } from '../../lambda/adapters/runtime';
import { GitHubRunnerFleet } from '../../src';
import { ENV_FLEET_CONFIG, TagKeys } from '../../src/contract';
import { INSTANCE_AGENT_RESERVED_CONCURRENCY } from '../../src/lifecycle/instance-agent';
import { testStack } from '../fleet/helpers';

type Resource = { Type: string; Properties?: Record<string, any>; DependsOn?: string | string[] };
type Resources = Record<string, Resource>;
type Statement = { Sid?: string; Effect: string; Action?: string | string[]; NotAction?: string | string[]; Resource?: unknown; Condition?: any };

function exampleTemplate(): { stack: ExampleRunnersStack; template: Template; resources: Resources } {
  const stack = new ExampleRunnersStack(new App(), 'Example', { env: { account: '123456789012', region: 'us-east-1' } });
  const template = Template.fromStack(stack);
  return { stack, template, resources: template.toJSON().Resources };
}

/** A stack like the example with a spot fleet and a fleet that creates its own control plane. */
function spotTemplate(): Resources {
  const ctx = testStack();
  new GitHubRunnerFleet(ctx.stack, 'Spot', {
    vpc: ctx.vpc,
    github: ctx.github,
    labels: ['linux', 'spot'],
    fleetName: 'spot',
    instanceTypes: [new ec2.InstanceType('m7i.large'), new ec2.InstanceType('m6i.large')],
    spot: { onDemandBaseCapacity: 1 },
    warmPool: { enabled: false },
  });
  return Template.fromStack(ctx.stack).toJSON().Resources;
}

const refTo = (id: string) => (v: unknown) => (v as any)?.Ref === id;

/** Logical ids of the roles an EC2 instance can assume (trust policy names the ec2.amazonaws.com service). */
function ec2Roles(resources: Resources): string[] {
  return Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role'
    && (r.Properties?.AssumeRolePolicyDocument?.Statement ?? []).some((s: Statement & { Principal?: any }) =>
      s.Effect === 'Allow' && JSON.stringify(s.Principal ?? {}).includes('ec2.amazonaws.com')))
    .map(([id]) => id);
}

/**
 * Every statement granted to a role: its inline policies, the AWS::IAM::Policy and customer managed
 * AWS::IAM::ManagedPolicy resources attached to it. AWS managed policies are returned by name.
 */
function grantsOf(resources: Resources, roleId: string): { statements: Array<Statement & { source: string }>; awsManaged: string[] } {
  const role = resources[roleId];
  const statements: Array<Statement & { source: string }> = [];
  for (const policy of role.Properties?.Policies ?? []) {
    statements.push(...[policy.PolicyDocument.Statement].flat().map((s: Statement) => ({ ...s, source: `${roleId} inline ${policy.PolicyName}` })));
  }
  const awsManaged: string[] = [];
  for (const arn of role.Properties?.ManagedPolicyArns ?? []) {
    const local = Object.entries(resources).find(([id]) => refTo(id)(arn));
    if (local) {
      statements.push(...[local[1].Properties!.PolicyDocument.Statement].flat().map((s: Statement) => ({ ...s, source: local[0] })));
    } else {
      awsManaged.push(JSON.stringify(arn).replace(/.*:policy\//, '').replace(/"\]*\}*$/, ''));
    }
  }
  for (const [id, r] of Object.entries(resources)) {
    if ((r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && (r.Properties?.Roles ?? []).some(refTo(roleId))) {
      statements.push(...[r.Properties!.PolicyDocument.Statement].flat().map((s: Statement) => ({ ...s, source: id })));
    }
  }
  return { statements, awsManaged };
}

/** Whether an IAM action pattern (wildcards allowed) can match an action of `service`. */
function reaches(action: string, service: string): boolean {
  const [prefix] = action.split(':');
  const glob = new RegExp(`^${(action.includes(':') ? prefix : action).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return glob.test(service);
}

/** "<role>: <action> (<policy>/<sid>)" for every Allow that reaches Auto Scaling, for any role EC2 can assume. */
function autoScalingGrantsOfInstanceRoles(resources: Resources): string[] {
  return ec2Roles(resources).flatMap((roleId) => grantsOf(resources, roleId).statements
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => {
      if (s.NotAction !== undefined) {
        // Allowed: everything but NotAction; only excluding all of Auto Scaling keeps it out.
        const excludesAll = [s.NotAction].flat().some((a) => a === '*' || a.toLowerCase() === 'autoscaling:*');
        return excludesAll ? [] : [`${roleId}: NotAction ${JSON.stringify(s.NotAction)} allows autoscaling (${s.source}/${s.Sid ?? '-'})`];
      }
      return [s.Action ?? []].flat().filter((a) => reaches(a, 'autoscaling')).map((a) => `${roleId}: ${a} (${s.source}/${s.Sid ?? '-'})`);
    }));
}

/** The condition that keeps an instance to its own secret: the secret's instance tag is the caller's instance ARN. */
const OWN_SECRET_CONDITION_KEY = `secretsmanager:ResourceTag/${TagKeys.INSTANCE_ARN}`;

/**
 * "<role>: <actions> (<policy>/<sid>)" for every Allow that reaches Secrets Manager, for any role EC2 can
 * assume, unless it carries StringEquals `secretsmanager:ResourceTag/<instance tag>` = `${ec2:SourceInstanceARN}`
 * (a single value: a list would allow any of its values). Further conditions only narrow it.
 */
function secretGrantsOfInstanceRolesNotLimitedToOwnSecret(resources: Resources): string[] {
  return ec2Roles(resources).flatMap((roleId) => grantsOf(resources, roleId).statements
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => {
      const actions = s.NotAction !== undefined
        ? ([s.NotAction].flat().some((a) => a === '*' || a.toLowerCase() === 'secretsmanager:*') ? [] : [`NotAction ${JSON.stringify(s.NotAction)}`])
        : [s.Action ?? []].flat().filter((a) => reaches(a, 'secretsmanager'));
      if (actions.length === 0 || s.Condition?.StringEquals?.[OWN_SECRET_CONDITION_KEY] === '${ec2:SourceInstanceARN}') {
        return [];
      }
      return [`${roleId}: ${actions.join(', ')} (${s.source}/${s.Sid ?? '-'})`];
    }));
}

/** Every resource reachable from `id` through Ref, Fn::GetAtt and DependsOn: a cycle is undeployable. */
function dependencyCycle(resources: Resources): string[] | undefined {
  const edges = (r: Resource): string[] => {
    const out = new Set<string>([r.DependsOn ?? []].flat());
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) {
        v.forEach(walk);
        return;
      }
      if (!v || typeof v !== 'object') {
        return;
      }
      for (const [k, x] of Object.entries(v)) {
        if (k === 'Ref' && typeof x === 'string' && resources[x]) out.add(x);
        else if (k === 'Fn::GetAtt' && Array.isArray(x) && resources[x[0]]) out.add(x[0]);
        else walk(x);
      }
    };
    walk(r.Properties);
    return [...out];
  };
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string, path: string[]): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    for (const next of edges(resources[id])) {
      const cycle = visit(next, [...path, id]);
      if (cycle) return cycle;
    }
    state.set(id, 'done');
    return undefined;
  };
  for (const id of Object.keys(resources)) {
    const cycle = visit(id, []);
    if (cycle) return cycle;
  }
  return undefined;
}

function agentFunctionId(resources: Resources): string {
  const ids = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function' && /^InstanceAgent:/.test(r.Properties?.Description)).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('the instance agent\'s function and URL', () => {
  test('a Function URL with AWS_IAM auth on the agent function; the control plane exposes it as instanceAgentUrl', () => {
    const { stack, template, resources } = exampleTemplate();
    const fnId = agentFunctionId(resources);
    const urls = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Url' && r.Properties?.AuthType === 'AWS_IAM');
    expect(urls).toHaveLength(1);
    const [urlId, url] = urls[0];
    expect(url.Properties!.TargetFunctionArn).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
    expect(stack.resolve(stack.fleets[0].controlPlane.instanceAgentUrl)).toEqual({ 'Fn::GetAtt': [urlId, 'FunctionUrl'] });
    // No resource policy opens it further: same-account instance roles are allowed by their own policy.
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { FunctionName: Match.objectLike({ 'Fn::GetAtt': [fnId, 'Arn'] }) }, 0);
  });

  test('256 MB, arm64, a 15-second timeout, its own log group, the reserved concurrency, the control plane\'s configuration', () => {
    const { resources } = exampleTemplate();
    const fn = resources[agentFunctionId(resources)];
    expect(fn.Properties).toEqual(expect.objectContaining({
      MemorySize: 256,
      Architectures: ['arm64'],
      Timeout: 15,
      Runtime: 'nodejs22.x',
      ReservedConcurrentExecutions: INSTANCE_AGENT_RESERVED_CONCURRENCY,
      LoggingConfig: { LogGroup: { Ref: expect.stringMatching(/InstanceAgentLogs/) } },
    }));
    expect(INSTANCE_AGENT_RESERVED_CONCURRENCY).toBe(20);
    const registration = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && /^Registration:/.test(r.Properties?.Description))!;
    expect(fn.Properties!.Environment.Variables[ENV_FLEET_CONFIG]).toEqual(registration.Properties!.Environment.Variables[ENV_FLEET_CONFIG]);
  });

  test('the configuration names each fleet\'s instance role (a deploy-time Ref to the role)', () => {
    const { stack, resources } = exampleTemplate();
    const raw = resources[agentFunctionId(resources)].Properties!.Environment.Variables[ENV_FLEET_CONFIG];
    const roleIds = stack.fleets.map((f) => stack.getLogicalId(f.role.node.defaultChild as iam.CfnRole));
    const text = raw['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : `<${p.Ref}>`)).join('');
    const config = JSON.parse(unpackFleetConfig(text)!);
    expect(config.fleets.map((f: any) => [f.name, f.instanceRoleName])).toEqual([
      ['linux-x64', `<${roleIds[0]}>`],
      ['linux-arm64', `<${roleIds[1]}>`],
    ]);
  });

  test('the agent\'s role: exactly the five calls on the caller, on groups of this control plane, and the two Describe calls', () => {
    const { stack, resources } = exampleTemplate();
    const roleRef = resources[agentFunctionId(resources)].Properties!.Role['Fn::GetAtt'][0];
    const { statements, awsManaged } = grantsOf(resources, roleRef);
    expect(awsManaged).toEqual(['service-role/AWSLambdaBasicExecutionRole']);
    expect(statements.map(({ source: _source, ...s }) => s)).toEqual([
      {
        Sid: 'ManageCallerInstance',
        Effect: 'Allow',
        Action: [
          'autoscaling:SetInstanceProtection',
          'autoscaling:CompleteLifecycleAction',
          'autoscaling:RecordLifecycleActionHeartbeat',
          'autoscaling:TerminateInstanceInAutoScalingGroup',
          'autoscaling:SetInstanceHealth',
        ],
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':autoscaling:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':autoScalingGroup:*:autoScalingGroupName/*']] },
        Condition: { StringEquals: { [`autoscaling:ResourceTag/${TagKeys.CONTROL_PLANE}`]: stack.fleets[0].controlPlane.controlPlaneId } },
      },
      {
        Sid: 'FindCallerGroup',
        Effect: 'Allow',
        Action: ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeWarmPool'],
        Resource: '*',
      },
    ]);
  });
});

describe('IAM: whatever a job can do with its instance\'s credentials affects that instance alone', () => {
  test.each([
    ['the example stack', () => exampleTemplate().resources],
    ['a spot fleet with its own control plane', spotTemplate],
  ])('%s: no role an EC2 instance can assume has any Auto Scaling action (not even Describe*)', (_name, build) => {
    const resources = build();
    expect(ec2Roles(resources).length).toBeGreaterThan(0);
    // The failure lists each offending action with its role, policy and statement.
    expect(autoScalingGrantsOfInstanceRoles(resources)).toEqual([]);
    // The AWS managed policies cannot be read here: only this one, reviewed, may be attached.
    for (const roleId of ec2Roles(resources)) {
      expect(grantsOf(resources, roleId).awsManaged).toEqual(['AmazonSSMManagedInstanceCore']);
    }
  });

  test.each([
    ['the example stack', () => exampleTemplate().resources],
    ['a spot fleet with its own control plane', spotTemplate],
  ])('%s: every Secrets Manager action of a role an EC2 instance can assume is limited to the instance\'s own secret', (_name, build) => {
    const resources = build();
    const roles = ec2Roles(resources);
    expect(roles.length).toBeGreaterThan(0);
    // The failure lists each offending statement with its role, policy, statement id and actions.
    expect(secretGrantsOfInstanceRolesNotLimitedToOwnSecret(resources)).toEqual([]);
    // The instances do use Secrets Manager: read their secret, and delete it once the runner is configured.
    for (const roleId of roles) {
      const actions = grantsOf(resources, roleId).statements.flatMap((s) => [s.Action ?? []].flat()).filter((a) => reaches(a, 'secretsmanager'));
      expect(actions.sort()).toEqual(['secretsmanager:DeleteSecret', 'secretsmanager:GetSecretValue']);
    }
  });

  test('the check finds Secrets Manager grants beyond the instance\'s own secret when there are some (the test can fail)', () => {
    const ctx = testStack();
    const fleet = new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, github: ctx.github, labels: ['linux'], fleetName: 'linux' });
    const own = { StringEquals: { [OWN_SECRET_CONDITION_KEY]: '${ec2:SourceInstanceARN}' } };
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'AnySecret', actions: ['secretsmanager:DeleteSecret', 'secretsmanager:GetSecretValue'], resources: ['*'] }));
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ListedArns',
      actions: ['secretsmanager:Get*'],
      resources: ['*'],
      conditions: { StringEquals: { [OWN_SECRET_CONDITION_KEY]: ['${ec2:SourceInstanceARN}', 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0'] } },
    }));
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'OtherTag',
      actions: ['secretsmanager:DeleteSecret'],
      resources: ['*'],
      conditions: { StringEquals: { 'secretsmanager:ResourceTag/owner': '${ec2:SourceInstanceARN}' } },
    }));
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'Narrowed', actions: ['secretsmanager:DescribeSecret'], resources: ['*'], conditions: own }));
    const other = new iam.Role(ctx.stack, 'Other', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    other.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'Everything', notActions: ['iam:*'], resources: ['*'] }));
    other.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'NotSecrets', notActions: ['secretsmanager:*'], resources: ['*'] }));
    const found = secretGrantsOfInstanceRolesNotLimitedToOwnSecret(Template.fromStack(ctx.stack).toJSON().Resources);
    expect(found).toEqual([
      expect.stringMatching(/^FleetInstanceRole.*: secretsmanager:DeleteSecret, secretsmanager:GetSecretValue \(.*\/AnySecret\)$/),
      expect.stringMatching(/^FleetInstanceRole.*: secretsmanager:Get\* \(.*\/ListedArns\)$/),
      expect.stringMatching(/^FleetInstanceRole.*: secretsmanager:DeleteSecret \(.*\/OtherTag\)$/),
      expect.stringMatching(/^Other.*: NotAction "iam:\*" \(.*\/Everything\)$/),
    ]);
  });

  test('the check finds Auto Scaling grants when there are some (the test can fail)', () => {
    const ctx = testStack();
    const fleet = new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, github: ctx.github, labels: ['linux'], fleetName: 'linux' });
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'Sneaky', actions: ['autoscaling:SetInstanceProtection', 'autoscaling:Describe*'], resources: ['*'] }));
    fleet.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'Broad', actions: ['*', 's3:GetObject'], resources: ['*'] }));
    const other = new iam.Role(ctx.stack, 'Other', { assumedBy: new iam.CompositePrincipal(new iam.ServicePrincipal('ec2.amazonaws.com'), new iam.AccountRootPrincipal()) });
    other.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'Everything', notActions: ['iam:*'], resources: ['*'] }));
    const found = autoScalingGrantsOfInstanceRoles(Template.fromStack(ctx.stack).toJSON().Resources);
    expect(found).toEqual([
      expect.stringMatching(/FleetInstanceRole.*: autoscaling:SetInstanceProtection \(.*\/Sneaky\)$/),
      expect.stringMatching(/FleetInstanceRole.*: autoscaling:Describe\* \(.*\/Sneaky\)$/),
      expect.stringMatching(/FleetInstanceRole.*: \* \(.*\/Broad\)$/),
      expect.stringMatching(/^Other.*: NotAction "iam:\*" allows autoscaling \(.*\/Everything\)$/),
    ]);
  });

  test('the instance role may invoke only the agent\'s URL: InvokeFunctionUrl with AWS_IAM, InvokeFunction only through the URL', () => {
    const { resources } = exampleTemplate();
    const fnArn = { 'Fn::GetAtt': [agentFunctionId(resources), 'Arn'] };
    for (const roleId of ec2Roles(resources)) {
      const lambdaStatements = grantsOf(resources, roleId).statements
        .filter((s) => s.Effect === 'Allow' && [s.Action ?? []].flat().some((a) => reaches(a, 'lambda')))
        .map(({ source: _source, ...s }) => s);
      expect(lambdaStatements).toEqual([
        {
          Sid: 'InvokeInstanceAgentUrl',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunctionUrl',
          Resource: fnArn,
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        },
        {
          Sid: 'InvokeInstanceAgentThroughUrlOnly',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: fnArn,
          // A direct invocation could carry a forged requestContext.authorizer.iam.
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
        },
      ]);
    }
  });

  test('the other functions keep what they had; only the agent may change protection, terminate, or mark instances unhealthy', () => {
    const { resources } = exampleTemplate();
    const agentRole = resources[agentFunctionId(resources)].Properties!.Role['Fn::GetAtt'][0];
    const holders = (action: string) => Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .filter(([id]) => grantsOf(resources, id).statements.some((s) => s.Effect === 'Allow' && [s.Action ?? []].flat().includes(action)))
      .map(([id]) => id);
    for (const action of ['autoscaling:SetInstanceProtection', 'autoscaling:TerminateInstanceInAutoScalingGroup', 'autoscaling:SetInstanceHealth']) {
      expect(holders(action)).toEqual([agentRole]);
    }
  });

  test('the synthesized template has no reference cycle (the fleet and the control plane refer to each other\'s parts)', () => {
    expect(dependencyCycle(exampleTemplate().resources)).toBeUndefined();
    expect(dependencyCycle(spotTemplate())).toBeUndefined();
    // The check can fail.
    expect(dependencyCycle({ A: { Type: 'X', Properties: { P: { Ref: 'B' } } }, B: { Type: 'X', DependsOn: 'A' } })).toEqual(['A', 'B', 'A']);
  });

  test('a stack whose only control plane is shared keeps one agent for all its fleets', () => {
    const ctx = testStack();
    for (const name of ['a', 'b', 'c']) {
      new GitHubRunnerFleet(ctx.stack, name, { vpc: ctx.vpc, github: ctx.github, labels: [name], fleetName: name });
    }
    const template = Template.fromStack(ctx.stack);
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^InstanceAgent:') }, 1);
    template.resourcePropertiesCountIs('AWS::Lambda::Url', { AuthType: 'AWS_IAM' }, 1);
    expect(Stack.of(ctx.stack)).toBeDefined();
  });
});
