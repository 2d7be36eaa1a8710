import { CfnElement, Duration, Size } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { failureOf, fleetWith, synthMistakes, testStack } from './helpers';
import { GitHubRunnerFleet, RunnerMode, RunnerOperatingSystem } from '../../src';
import { ENV_FLEET_CONFIG, FleetRuntimeConfig, LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../src/contract';
import { controlPlaneNames } from '../../src/lifecycle/names';

function runtimeConfig(template: Template): FleetRuntimeConfig[] {
  const functions = template.findResources('AWS::Lambda::Function');
  return Object.values(functions)
    .map((f: any) => f.Properties.Environment?.Variables?.[ENV_FLEET_CONFIG])
    .filter((v) => v !== undefined)
    .map((v) => {
      // The config is a Fn::Join of literal strings and tokens: keep the literal parts to parse it.
      const parts = v['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN'));
      return JSON.parse(parts.join(''));
    });
}

describe('GitHubRunnerFleet: the group', () => {
  test('defaults: 0-10 instances, 7-day lifetime, no desired capacity, tagged with the fleet', () => {
    const { stack } = fleetWith();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '0',
      MaxSize: '10',
      MaxInstanceLifetime: 604800,
      DesiredCapacity: Match.absent(),
      NewInstancesProtectedFromScaleIn: false,
      LaunchTemplate: Match.objectLike({ LaunchTemplateId: Match.anyValue() }),
      Tags: Match.arrayWith([{ Key: 'github-runner-fleet:fleet', Value: 'linux-x64', PropagateAtLaunch: true }]),
    });
  });

  test('runs in the private subnets by default', () => {
    const { stack, vpc } = fleetWith();
    const group = Template.fromStack(stack).findResources('AWS::AutoScaling::AutoScalingGroup');
    const subnets = Object.values(group)[0].Properties.VPCZoneIdentifier.map((s: any) => s.Ref);
    const privateIds = vpc.privateSubnets.map((s) => stack.getLogicalId(s.node.defaultChild as any));
    expect(subnets.sort()).toEqual(privateIds.sort());
  });

  test('has a launch hook (default ABANDON) and a terminate hook (default CONTINUE), named after the control plane', () => {
    const { stack, fleet } = fleetWith({ launchTimeout: Duration.minutes(10) });
    const template = Template.fromStack(stack);
    const names = controlPlaneNames(fleet.controlPlane.controlPlaneId);
    expect(names.launchHookName).toMatch(new RegExp(`^${LAUNCH_HOOK_NAME}-[0-9a-f]{8}$`));
    expect(names.terminateHookName).toBe(names.launchHookName.replace(LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME));
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: names.launchHookName,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      DefaultResult: 'ABANDON',
      HeartbeatTimeout: 600,
      NotificationTargetARN: Match.absent(),
    });
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: names.terminateHookName,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      DefaultResult: 'CONTINUE',
      HeartbeatTimeout: 900,
    });
  });

  test('a warm pool of stopped instances, reused on scale-in, by default', () => {
    Template.fromStack(fleetWith().stack).hasResourceProperties('AWS::AutoScaling::WarmPool', {
      PoolState: 'Stopped',
      MinSize: 0,
      InstanceReusePolicy: { ReuseOnScaleIn: true },
    });
  });

  test('no warm pool when disabled', () => {
    Template.fromStack(fleetWith({ warmPool: { enabled: false } }).stack).resourceCountIs('AWS::AutoScaling::WarmPool', 0);
  });

  test('a hibernated warm pool configures the launch template for hibernation', () => {
    const template = Template.fromStack(fleetWith({
      warmPool: { poolState: autoscaling.PoolState.HIBERNATED, minSize: 2, maxGroupPreparedCapacity: 5 },
    }).stack);
    template.hasResourceProperties('AWS::AutoScaling::WarmPool', { PoolState: 'Hibernated', MinSize: 2, MaxGroupPreparedCapacity: 5 });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ HibernationOptions: { Configured: true } }),
    });
  });
});

describe('GitHubRunnerFleet: the instances', () => {
  test('IMDSv2 only, hop limit 1, encrypted gp3 root volume, the default instance type', () => {
    Template.fromStack(fleetWith({ rootVolumeSize: Size.gibibytes(50) }).stack).hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'm7i.large',
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' }),
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 50, DeleteOnTermination: true } }],
        HibernationOptions: Match.absent(),
      }),
    });
  });

  test.each([
    [RunnerOperatingSystem.AMAZON_LINUX_2023, ec2.InstanceClass.M7I, 'al2023-ami-kernel-6.1-x86_64', '/dev/xvda'],
    [RunnerOperatingSystem.AMAZON_LINUX_2023, ec2.InstanceClass.M7G, 'al2023-ami-kernel-6.1-arm64', '/dev/xvda'],
    [RunnerOperatingSystem.UBUNTU_24_04, ec2.InstanceClass.M7I, 'ubuntu/server/24.04/stable/current/amd64', '/dev/sda1'],
    [RunnerOperatingSystem.UBUNTU_24_04, ec2.InstanceClass.C7G, 'ubuntu/server/24.04/stable/current/arm64', '/dev/sda1'],
  ])('%p on %p resolves the image from the public SSM parameter %p', (os, instanceClass, parameter, device) => {
    const { stack } = fleetWith({ operatingSystem: os, instanceType: ec2.InstanceType.of(instanceClass, ec2.InstanceSize.LARGE) });
    const template = Template.fromStack(stack);
    const params = template.toJSON().Parameters ?? {};
    const defaults = Object.values(params).map((p: any) => String(p.Default));
    expect(defaults.some((d) => d.includes(parameter))).toBe(true);
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ BlockDeviceMappings: [Match.objectLike({ DeviceName: device })] }),
    });
  });

  test('a user-supplied image is used as is', () => {
    const image = ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' });
    Template.fromStack(fleetWith({ machineImage: image }).stack).hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ ImageId: 'ami-0123456789abcdef0' }),
    });
  });

  test('the security group has no inbound rules', () => {
    const { stack, fleet } = fleetWith();
    const template = Template.fromStack(stack);
    const groups = template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('GitHub runners of linux-x64') },
    });
    expect(Object.keys(groups)).toHaveLength(1);
    expect(Object.values(groups)[0].Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    expect(fleet.connections.securityGroups).toHaveLength(1);
  });

  test('the user data bootstraps the runner version and reads the instance secret prefix', () => {
    // 2.330.1 is not pinned by the library: its digest must be given.
    const { stack, fleet } = fleetWith({ runnerVersion: '2.330.1', runnerSha256: 'ab'.repeat(32) });
    const lt = Object.values(Template.fromStack(stack).findResources('AWS::EC2::LaunchTemplate'))[0] as any;
    const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
    expect(userData).toContain('2.330.1');
    expect(userData).toContain(`RF_RUNNER_SHA256=${'ab'.repeat(32)}`);
    // The fleet's secrets are below its control plane's prefix.
    expect(userData).toContain(`RF_SECRET_PREFIX=github-runner-fleet/${fleet.controlPlane.controlPlaneId}/linux-x64/`);
  });

  test('the instance role reads only the secret tagged with its own instance ARN', () => {
    const { stack, fleet } = fleetWith();
    const prefix = `github-runner-fleet/${fleet.controlPlane.controlPlaneId}/linux-x64/`;
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'ReadOwnRunnerSecret',
          Action: 'secretsmanager:GetSecretValue',
          Condition: { StringEquals: { 'secretsmanager:ResourceTag/github-runner-fleet:instance-arn': '${ec2:SourceInstanceARN}' } },
          Resource: { 'Fn::Join': ['', Match.arrayWith([`:secret:${prefix}*`])] },
        })]),
      },
    });
  });

  test('the instance role deletes only its own secret: the same resource and the same tag condition as the read', () => {
    const { stack, fleet } = fleetWith();
    const roleId = stack.getLogicalId(fleet.role.node.defaultChild as CfnElement);
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const read = statements.find((s: any) => s.Sid === 'ReadOwnRunnerSecret');
    const deletes = statements.filter((s: any) => [s.Action].flat().includes('secretsmanager:DeleteSecret'));
    expect(deletes).toEqual([{
      Sid: 'DeleteOwnRunnerSecret',
      Effect: 'Allow',
      Action: 'secretsmanager:DeleteSecret',
      Condition: { StringEquals: { 'secretsmanager:ResourceTag/github-runner-fleet:instance-arn': '${ec2:SourceInstanceARN}' } },
      Resource: read.Resource,
    }]);
    expect(JSON.stringify(read.Resource)).toContain(`:secret:github-runner-fleet/${fleet.controlPlane.controlPlaneId}/linux-x64/*"`);
  });

  test('the instance role has no Auto Scaling permission: it may invoke the control plane\'s instance agent URL, with IAM auth', () => {
    const { stack, fleet } = fleetWith();
    const template = Template.fromStack(stack);
    const roleId = stack.getLogicalId(fleet.role.node.defaultChild as CfnElement);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(statements.map((s: any) => s.Sid).sort()).toEqual(['DeleteOwnRunnerSecret', 'InvokeInstanceAgentThroughUrlOnly', 'InvokeInstanceAgentUrl', 'ReadOwnRunnerSecret']);
    expect(statements.flatMap((s: any) => [s.Action].flat()).filter((a: string) => a.startsWith('autoscaling:'))).toEqual([]);
  });

  test('grantPrincipal is the instance role', () => {
    const { fleet } = fleetWith();
    expect(fleet.grantPrincipal).toBe(fleet.role);
  });
});

describe('GitHubRunnerFleet: the functions and rules', () => {
  test('four Node.js 22 functions (with the instance agent) share one runtime configuration', () => {
    const { stack, fleet } = fleetWith({ runnerMode: RunnerMode.PERSISTENT, runnerGroupId: 3 });
    const template = Template.fromStack(stack);
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Runtime: 'nodejs22.x' }, 4);
    const configs = runtimeConfig(template);
    expect(configs).toHaveLength(4);
    const config = configs[0];
    expect(config.github).toMatchObject({ scope: 'organization', owner: 'acme', apiUrl: 'https://api.github.com', auth: 'app' });
    expect(config.fleets).toEqual([expect.objectContaining({
      name: 'linux-x64',
      fleetLabel: 'fleet-linux-x64',
      labels: ['linux', 'x64', 'fleet-linux-x64'],
      mode: 'persistent',
      runnerGroupId: 3,
      secretPrefix: `github-runner-fleet/${fleet.controlPlane.controlPlaneId}/linux-x64/`,
      offlineGraceSeconds: 900,
      drainTimeoutSeconds: 7200,
      launchHookName: controlPlaneNames(fleet.controlPlane.controlPlaneId).launchHookName,
      terminateHookName: controlPlaneNames(fleet.controlPlane.controlPlaneId).terminateHookName,
    })]);
  });

  test('lifecycle rules filter by the control plane\'s hook names and (for launches) by destination; every target has retries and a dead-letter queue', () => {
    const { stack, fleet } = fleetWith();
    const template = Template.fromStack(stack);
    const names = controlPlaneNames(fleet.controlPlane.controlPlaneId);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-launch Lifecycle Action'],
        'detail': { LifecycleHookName: [names.launchHookName], Destination: ['AutoScalingGroup'] },
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['EC2 Instance-terminate Lifecycle Action'], 'detail': { LifecycleHookName: [names.terminateHookName] } },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(4);
    for (const rule of rules as any[]) {
      for (const target of rule.Properties.Targets) {
        expect(target.DeadLetterConfig).toBeDefined();
        expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 });
      }
    }
  });

  test('only the registration function may create secrets; deregistration, a failed registration and the instance itself may delete them', () => {
    const { stack, fleet } = fleetWith();
    const template = Template.fromStack(stack);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
    const actionsOf = (sid: string) => policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Sid === sid);
    expect(actionsOf('WriteInstanceSecrets')).toHaveLength(1);
    expect(actionsOf('DeleteInstanceSecrets')).toHaveLength(1);
    expect(actionsOf('DeleteFailedRegistrationSecrets')).toHaveLength(1);
    const all = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const creators = all.filter((s: any) => [s.Action].flat().includes('secretsmanager:CreateSecret'));
    expect(creators.map((s: any) => s.Sid)).toEqual(['WriteInstanceSecrets']);
    // Which role holds each delete: the statement ids are not enough.
    const roleOf = (fn: { role?: unknown }) => stack.getLogicalId((fn.role as any).node.defaultChild as CfnElement);
    const deleters = policies.flatMap((p) => p.Properties.PolicyDocument.Statement
      .filter((s: any) => [s.Action].flat().includes('secretsmanager:DeleteSecret'))
      .map((s: any) => `${p.Properties.Roles.map((r: any) => r.Ref).join(',')}/${s.Sid}`));
    expect(deleters.sort()).toEqual([
      `${roleOf(fleet.deregistrationFunction)}/DeleteInstanceSecrets`,
      `${roleOf(fleet.registrationFunction)}/DeleteFailedRegistrationSecrets`,
      `${roleOf(fleet)}/DeleteOwnRunnerSecret`,
    ].sort());
  });
});

describe('GitHubRunnerFleet: scaling on the capacity gap', () => {
  /** The scaling policy whose alarm is `alarmId` (a child of the fleet's Scaling construct). */
  function policyOf(template: Template, alarmId: RegExp): any {
    const [, alarm] = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).find(([id]) => alarmId.test(id))!;
    const policyId = (alarm as any).Properties.AlarmActions[0].Ref;
    return template.findResources('AWS::AutoScaling::ScalingPolicy')[policyId].Properties;
  }

  test('scale-out: a gap of 1 or more (maximum of 10-second periods) adds the whole gap in one step, no warm-up', () => {
    const template = Template.fromStack(fleetWith({ idleRunners: 3, maxCapacity: 3 }).stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'GitHubRunnerFleet',
      MetricName: 'CapacityGap',
      Dimensions: [{ Name: 'Fleet', Value: 'linux-x64' }],
      Statistic: 'Maximum',
      Period: 10,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0.5,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(policyOf(template, /CapacityGapHighAlarm/)).toEqual(expect.objectContaining({
      PolicyType: 'StepScaling',
      AdjustmentType: 'ChangeInCapacity',
      MetricAggregationType: 'Maximum',
      EstimatedInstanceWarmup: 0,
      StepAdjustments: [
        { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 1, ScalingAdjustment: 1 },
        { MetricIntervalLowerBound: 1, MetricIntervalUpperBound: 2, ScalingAdjustment: 2 },
        { MetricIntervalLowerBound: 2, ScalingAdjustment: 3 },
      ],
    }));
  });

  test('scale-in: an excess lasting two one-minute periods removes exactly the excess, no warm-up', () => {
    const template = Template.fromStack(fleetWith({ idleRunners: 1, maxCapacity: 3 }).stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CapacityGap',
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: -0.5,
      EvaluationPeriods: 2,
      TreatMissingData: 'notBreaching',
    });
    expect(policyOf(template, /CapacityGapLowAlarm/)).toEqual(expect.objectContaining({
      PolicyType: 'StepScaling',
      AdjustmentType: 'ChangeInCapacity',
      MetricAggregationType: 'Maximum',
      EstimatedInstanceWarmup: 0,
      StepAdjustments: [
        { MetricIntervalLowerBound: -1, MetricIntervalUpperBound: 0, ScalingAdjustment: -1 },
        { MetricIntervalLowerBound: -2, MetricIntervalUpperBound: -1, ScalingAdjustment: -2 },
        { MetricIntervalUpperBound: -2, ScalingAdjustment: -3 },
      ],
    }));
  });

  test('no alarm watches the idle runners any more, and a large group gets 20 steps each way', () => {
    const template = Template.fromStack(fleetWith({ maxCapacity: 50 }).stack);
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'IdleRunners' }, 0);
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'CapacityGap' }, 2);
    const policies = Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy')) as any[];
    const byMagnitude = (x: number, y: number) => Math.abs(x) - Math.abs(y);
    expect(policies.map((p) => p.Properties.StepAdjustments.map((a: any) => a.ScalingAdjustment).sort(byMagnitude)))
      .toEqual([Array.from({ length: 20 }, (_, i) => i + 1), Array.from({ length: 20 }, (_, i) => -(i + 1))]);
  });

  test('the alarms keep their construct ids (replacing them would replace the alarms in users\' stacks)', () => {
    const { fleet } = fleetWith();
    const scaling = fleet.node.findChild('Scaling');
    expect(scaling.node.findChild('CapacityGapHighAlarm')).toBe(fleet.scaleOutAlarm);
    expect(scaling.node.findChild('CapacityGapLowAlarm')).toBe(fleet.scaleInAlarm);
  });

  test('the group\'s default instance warm-up is 0: the gap counts instances on their way already', () => {
    Template.fromStack(fleetWith().stack).hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { DefaultInstanceWarmup: 0 });
  });

  test('never simple scaling', () => {
    const template = Template.fromStack(fleetWith().stack);
    const policies = Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy')) as any[];
    expect(policies).toHaveLength(2);
    expect(policies.every((p) => p.Properties.PolicyType === 'StepScaling')).toBe(true);
  });

  test('with an idle target of 0 the scale-out alarm still exists: busy runners are capacity needed too', () => {
    const { stack, fleet } = fleetWith({ idleRunners: 0, minCapacity: 1 });
    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Alarm', 2);
    expect(fleet.scaleOutAlarm).toBeDefined();
  });

  test('custom periods, evaluation counts and warm-up; the scale-out period needs no webhook', () => {
    const template = Template.fromStack(fleetWith({
      scaling: {
        period: Duration.minutes(2),
        demandPeriod: Duration.seconds(30),
        scaleOutEvaluationPeriods: 2,
        scaleInEvaluationPeriods: 5,
        estimatedInstanceWarmup: Duration.seconds(90),
      },
    }).stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Period: 30, EvaluationPeriods: 2, ComparisonOperator: 'GreaterThanThreshold' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Period: 120, EvaluationPeriods: 5, ComparisonOperator: 'LessThanThreshold' });
    template.resourcePropertiesCountIs('AWS::AutoScaling::ScalingPolicy', { EstimatedInstanceWarmup: 90 }, 2);
  });

  test('directScaleOut (default true) reaches the functions\' configuration as true; false leaves it out', () => {
    const on = runtimeConfig(Template.fromStack(fleetWith().stack));
    expect(on.map((c) => c.fleets[0].directScaleOut)).toEqual([true, true, true, true]);
    const off = runtimeConfig(Template.fromStack(fleetWith({ scaling: { directScaleOut: false } }).stack));
    expect(off).toHaveLength(4);
    for (const config of off) {
      expect(config.fleets[0]).not.toHaveProperty('directScaleOut');
    }
  });

  test('metric methods use the library namespace and the fleet dimension', () => {
    const { fleet } = fleetWith();
    for (const [metric, name] of [
      [fleet.metricIdleRunners(), 'IdleRunners'],
      [fleet.metricBusyRunners(), 'BusyRunners'],
      [fleet.metricOfflineRunners(), 'OfflineRunners'],
      [fleet.metricRegistrationFailures(), 'RegistrationFailures'],
      [fleet.metricCapacityGap(), 'CapacityGap'],
      [fleet.metricCapacityNeeded(), 'CapacityNeeded'],
    ] as const) {
      expect(metric.namespace).toBe('GitHubRunnerFleet');
      expect(metric.metricName).toBe(name);
      expect(metric.dimensions).toEqual({ Fleet: 'linux-x64' });
    }
    expect(fleet.metricRegistrationFailures().statistic).toBe('Sum');
    expect(fleet.metricCapacityGap().statistic).toBe('Maximum');
    expect(fleet.metricCapacityNeeded().statistic).toBe('Maximum');
    expect(fleet.metricCapacityGap({ statistic: 'Minimum' }).statistic).toBe('Minimum');
  });
});

describe('GitHubRunnerFleet: bad input', () => {
  test.each([
    [{ minCapacity: 5, maxCapacity: 2 }, 'minCapacity (5) must not exceed maxCapacity (2): lower minCapacity or raise maxCapacity'],
    [{ idleRunners: 12, maxCapacity: 10 }, 'idleRunners (12) must not exceed maxCapacity (10)'],
    [{ maxCapacity: 0 }, 'maxCapacity (0) must be a whole number from 1'],
    [{ minCapacity: -1 }, 'minCapacity (-1) must be a whole number'],
    [{ idleRunners: 1.5 }, 'idleRunners (1.5) must be a whole number'],
    [{ warmPool: { minSize: 12 } }, 'warmPool.minSize (12) must not exceed maxCapacity (10)'],
    [{ warmPool: { maxGroupPreparedCapacity: 11 } }, 'warmPool.maxGroupPreparedCapacity (11) must not exceed maxCapacity (10)'],
    [{ warmPool: { minSize: 4, maxGroupPreparedCapacity: 3 } }, 'warmPool.maxGroupPreparedCapacity (3) must not be below warmPool.minSize (4)'],
    [{ minCapacity: 0, idleRunners: 0 }, 'minCapacity and idleRunners are both 0, but scaling from zero needs the demand signal of queued jobs: give the control plane a webhook'],
    [{ scaling: { demandPeriod: Duration.seconds(15) } }, 'scaling.demandPeriod (15 seconds) must be 10, 20 or 30 seconds or a multiple of 60 seconds'],
    [{ scaling: { estimatedInstanceWarmup: Duration.hours(2) } }, 'scaling.estimatedInstanceWarmup (2 hours) is out of range: use Duration.seconds(0)'],
    [{ labels: [] }, 'labels is empty'],
    [{ labels: ['bad label'] }, 'labels contains "bad label"'],
    [{ runnerVersion: 'v2.329.0' }, 'runnerVersion ("v2.329.0") is not a version'],
    [{ runnerVersion: 'latest' }, 'runnerVersion ("latest") is not a version'],
    [{ maxInstanceLifetime: Duration.hours(12) }, 'maxInstanceLifetime (12 hours) must be between 1 day and 365 days'],
    [{ fleetName: 'has space' }, 'fleetName ("has space") must be 1-32 letters'],
    [{ fleetName: 'x'.repeat(33) }, 'must be 1-32 letters'],
    [{ rootVolumeSize: Size.gibibytes(4) }, 'rootVolumeSize (GiB) (4) must be a whole number from 8'],
    [{ scaling: { period: Duration.seconds(45) } }, 'scaling.period (45 seconds) must be 10, 20 or 30 seconds or a multiple of 60'],
    [{ scaling: { scaleInEvaluationPeriods: 0 } }, 'scaling.scaleInEvaluationPeriods (0) must be a whole number'],
    [{ launchTimeout: Duration.seconds(20) }, 'launchTimeout (20 seconds) is out of range'],
    [{ drainTimeout: Duration.hours(49) }, 'drainTimeout (2 days 1 hour) is out of range'],
    [{ runnerGroupId: 0 }, 'runnerGroupId (0) must be a whole number from 1'],
    [{ warmPool: { poolState: autoscaling.PoolState.HIBERNATED }, instanceType: new ec2.InstanceType('m7g.large') },
      'warmPool.poolState is HIBERNATED but instanceType (m7g.large) cannot hibernate'],
    [{ warmPool: { poolState: autoscaling.PoolState.HIBERNATED }, instanceType: new ec2.InstanceType('r7i.2xlarge'), rootVolumeSize: Size.gibibytes(30) },
      'rootVolumeSize (30 GiB) is too small to hibernate r7i.2xlarge (64 GiB of memory): use at least Size.gibibytes(72)'],
    [{ warmPool: { poolState: autoscaling.PoolState.HIBERNATED }, instanceType: new ec2.InstanceType('r7i.8xlarge'), rootVolumeSize: Size.gibibytes(500) },
      'has 256 GiB of memory; AWS hibernates at most 150 GiB'],
  ])('fails for %p', (overrides, message) => {
    expect(failureOf(overrides as any)).toContain(message);
  });

  test('runner groups are refused for repository scope', () => {
    const { stack, vpc, secret } = testStack();
    const { GitHubConnection: Conn, GitHubCredentials: Creds } = jest.requireActual('../../src');
    const github = Conn.repository('acme', 'infra', { credentials: Creds.fromPersonalAccessTokenSecret(secret) });
    const fleet = new GitHubRunnerFleet(stack, 'Repo', { vpc, github, labels: ['linux'], runnerGroupId: 2 });
    expect(synthMistakes(fleet)).toEqual([{
      path: 'TestStack/Repo',
      message: expect.stringMatching(/^runnerGroupId\/runnerGroupName apply to organization and enterprise scope only/),
    }]);
  });

  test('a hibernation-capable type with a large enough volume is accepted', () => {
    const { stack } = fleetWith({
      warmPool: { poolState: autoscaling.PoolState.HIBERNATED },
      instanceType: new ec2.InstanceType('r7i.2xlarge'),
      rootVolumeSize: Size.gibibytes(72),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::AutoScaling::WarmPool', { PoolState: 'Hibernated' });
  });
});

describe('GitHubRunnerFleet: warnings', () => {
  test.each([
    [{ scaling: { directScaleOut: false }, maxCapacity: 21 }, 'cdk-github-runner-fleet:LargeGapSteps'],
    [{ scaling: { estimatedInstanceWarmup: Duration.seconds(60) } }, 'cdk-github-runner-fleet:InstanceWarmup'],
    [{ labels: ['linux', 'ARM64'] }, 'cdk-github-runner-fleet:MisleadingLabel'],
    [{ labels: ['windows'] }, 'cdk-github-runner-fleet:MisleadingLabel'],
    [{ labels: ['x64'], instanceType: new ec2.InstanceType('m7g.large') }, 'cdk-github-runner-fleet:MisleadingLabel'],
    [{ warmPool: { poolState: autoscaling.PoolState.RUNNING } }, 'cdk-github-runner-fleet:RunningWarmPool'],
    [{ vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }, 'cdk-github-runner-fleet:PublicSubnets'],
    [{
      warmPool: { poolState: autoscaling.PoolState.HIBERNATED },
      instanceType: new ec2.InstanceType('x2iedn.xlarge'),
      rootVolumeSize: Size.gibibytes(200),
    },
    'cdk-github-runner-fleet:HibernationUnverified'],
  ])('%p warns with %s', (overrides, id) => {
    const { stack } = fleetWith(overrides as any);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('.*'));
    expect(warnings.map((w) => JSON.stringify(w.entry.data))).toEqual(expect.arrayContaining([expect.stringContaining(id)]));
  });

  test('the defaults give no warning', () => {
    const { stack } = fleetWith();
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('cdk-github-runner-fleet'));
    expect(warnings).toHaveLength(0);
  });

  test.each([
    ['a large group with the direct path', { maxCapacity: 200 }],
    ['20 instances at most without the direct path (20 steps cover every gap)', { maxCapacity: 20, scaling: { directScaleOut: false } }],
    ['a large idle target', { idleRunners: 25, maxCapacity: 50 }],
    ['a sub-minute scale-in period', { scaling: { period: Duration.seconds(30) } }],
    ['a warm-up of 0 given explicitly', { scaling: { estimatedInstanceWarmup: Duration.seconds(0) } }],
  ])('no warning for %s', (_name, overrides) => {
    const { stack } = fleetWith(overrides as any);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('cdk-github-runner-fleet'))).toHaveLength(0);
  });

  test('the gap-steps warning names maxCapacity and the fix', () => {
    const { stack } = fleetWith({ maxCapacity: 30, scaling: { directScaleOut: false } });
    const [warning] = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('LargeGapSteps'));
    expect(JSON.stringify(warning.entry.data)).toContain('maxCapacity (30) is above 20 with scaling.directScaleOut false');
  });
});
