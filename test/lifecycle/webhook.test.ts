import { App, Duration, Lazy, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet, GitHubRunnerFleetProps, RunnerWebhookOptions, WebhookEndpointType } from '../../src';
import { ENV_FLEET_CONFIG, TagKeys } from '../../src/contract';
import { WEBHOOK_RESERVED_CONCURRENCY } from '../../src/lifecycle/webhook';
import { synthMistakes, testStack } from '../fleet/helpers';

function buildWithWebhook(webhook: RunnerWebhookOptions = {}, fleet: Partial<GitHubRunnerFleetProps> = {}) {
  const ctx = testStack();
  const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github, webhook });
  const runners = new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, controlPlane, labels: ['linux'], fleetName: 'linux', ...fleet });
  return { ...ctx, controlPlane, fleet: runners };
}

function withWebhook(webhook: RunnerWebhookOptions = {}, fleet: Partial<GitHubRunnerFleetProps> = {}) {
  const built = buildWithWebhook(webhook, fleet);
  return { ...built, template: Template.fromStack(built.stack) };
}

/** Builds (which must not throw) and returns the mistakes the synth report lists. */
function mistakesWithWebhook(webhook: RunnerWebhookOptions = {}, fleet: Partial<GitHubRunnerFleetProps> = {}) {
  return synthMistakes(buildWithWebhook(webhook, fleet).stack);
}

function literalConfig(fn: any): any {
  const value = fn.Properties.Environment.Variables[ENV_FLEET_CONFIG];
  return JSON.parse(value['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
}

describe('GitHubRunnerControlPlane: webhook', () => {
  test('a Function URL (no AWS auth: the signature is checked first), a function answering within GitHub\'s 10 seconds', () => {
    const { template, controlPlane } = withWebhook();
    template.resourceCountIs('AWS::Lambda::Function', 5);
    template.resourcePropertiesCountIs('AWS::Lambda::Url', { AuthType: 'NONE' }, 1);
    template.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^Webhook:'), Timeout: 9 });
    expect(controlPlane.hasWebhook).toBe(true);
    expect(controlPlane.webhookUrl).toBeDefined();
  });

  test('a job table: partition key pk, TTL, the sparse queued-jobs index projecting everything, point-in-time recovery', () => {
    const { template } = withWebhook();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [{
        IndexName: 'QueuedByFleet',
        KeySchema: [{ AttributeName: 'queuedFleet', KeyType: 'HASH' }, { AttributeName: 'queuedAt', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'ALL' },
      }],
    });
  });

  test('a generated webhook secret, readable by the webhook function only', () => {
    const { template, stack } = withWebhook();
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { PasswordLength: 40, ExcludePunctuation: true } });
    const secretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0];
    const readers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => JSON.stringify(p.Properties.PolicyDocument).includes(secretId))
      .flatMap((p: any) => p.Properties.Roles.map((r: any) => r.Ref));
    expect(readers).toHaveLength(1);
    expect(readers[0]).toMatch(/WebhookFunction/);
    expect(stack).toBeDefined();
  });

  test('every function learns the webhook settings; only the webhook and idle-metric functions may use the table', () => {
    const { template } = withWebhook({ maxBodySize: Size.kibibytes(64) });
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(literalConfig(fn).webhook).toEqual({ tableName: 'TOKEN', secretArn: 'TOKEN', maxBodyBytes: 65536 });
    }
    const tableUsers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => JSON.stringify(p.Properties.PolicyDocument).includes('dynamodb:PutItem'))
      .flatMap((p: any) => p.Properties.Roles.map((r: any) => r.Ref as string));
    expect(tableUsers.sort()).toEqual([expect.stringMatching(/IdleMetricFunction/), expect.stringMatching(/WebhookFunction/)].sort());
  });

  test('an HTTP API with one route, POST /webhook, instead of a Function URL', () => {
    const { template, controlPlane, stack } = withWebhook({ endpoint: WebhookEndpointType.HTTP_API });
    // The only Function URL left is the instance agent's (AWS_IAM).
    template.resourcePropertiesCountIs('AWS::Lambda::Url', { AuthType: 'NONE' }, 0);
    template.resourcePropertiesCountIs('AWS::Lambda::Url', { AuthType: 'AWS_IAM' }, 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhook' });
    expect(stack.resolve(controlPlane.webhookUrl)).toEqual({ 'Fn::Join': ['', [expect.anything(), '/webhook']] });
  });

  test('a maxBodySize given as a token is refused at synth: the limit must be known', () => {
    const maxBodySize = Size.kibibytes(Lazy.number({ produce: () => 256 }));
    expect(mistakesWithWebhook({ maxBodySize })).toEqual([{ path: 'TestStack/Runners', message: 'webhook.maxBodySize must be a literal size, e.g. Size.kibibytes(256)' }]);
  });

  test('both webhook mistakes are reported at once, and the webhook is built on the defaults meanwhile', () => {
    const { stack } = buildWithWebhook({ maxBodySize: Size.bytes(100), reservedConcurrency: 0 });
    expect(synthMistakes(stack).map((m) => `${m.path}: ${m.message.split(' ')[0]}`))
      .toEqual(['TestStack/Runners: webhook.maxBodySize', 'TestStack/Runners: webhook.reservedConcurrency']);
    const fn = stack.node.findAll().find((c) => c.node.path === 'TestStack/Runners/WebhookFunction/Resource') as any;
    expect(stack.resolve(fn.reservedConcurrentExecutions)).toBe(WEBHOOK_RESERVED_CONCURRENCY);
  });

  test.each([Size.bytes(100), Size.mebibytes(7)])('fails for maxBodySize %s', (maxBodySize) => {
    expect(mistakesWithWebhook({ maxBodySize })).toEqual([{
      path: 'TestStack/Runners',
      message: expect.stringMatching(/^webhook.maxBodySize \(\d+ bytes\) must be between 1 KiB and 6 MiB/),
    }]);
  });

  test('cdk-nag: no unacknowledged finding with either endpoint', () => {
    for (const endpoint of [WebhookEndpointType.FUNCTION_URL, WebhookEndpointType.HTTP_API]) {
      const app = new App();
      const stack = new Stack(app, `Nag${endpoint.replace('-', '')}`, { env: { account: '123456789012', region: 'us-east-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { flowLogs: { all: {} } });
      const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'App', 'github-app');
      const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
      const controlPlane = new GitHubRunnerControlPlane(stack, 'Runners', { github, webhook: { endpoint } });
      new GitHubRunnerFleet(stack, 'Fleet', { vpc, controlPlane, labels: ['linux'], minCapacity: 0, idleRunners: 0 });
      const report = new AwsSolutionsChecks(app).validateScope(stack);
      expect(report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))).toEqual([]);
    }
  });
});

describe('GitHubRunnerControlPlane: the webhook\'s reserved concurrency', () => {
  const reservedOf = (template: Template) => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => /^Webhook:/.test(f.Properties.Description));
    return fn!.Properties.ReservedConcurrentExecutions;
  };

  test('reserved by default (20): a flood of deliveries cannot take the lifecycle functions\' concurrency', () => {
    const { template } = withWebhook();
    expect(reservedOf(template)).toBe(WEBHOOK_RESERVED_CONCURRENCY);
    expect(WEBHOOK_RESERVED_CONCURRENCY).toBe(20);
    // The lifecycle functions stay in the unreserved pool the webhook cannot drain.
    const lifecycle = Object.values(template.findResources('AWS::Lambda::Function'))
      .filter((f: any) => /^(Registration|Deregistration|IdleMetric):/.test(f.Properties.Description));
    expect(lifecycle).toHaveLength(3);
    expect(lifecycle.map((f: any) => f.Properties.ReservedConcurrentExecutions)).toEqual([undefined, undefined, undefined]);
  });

  test('reservedConcurrency sets it', () => {
    expect(reservedOf(withWebhook({ reservedConcurrency: 50 }).template)).toBe(50);
  });

  test.each([0, -1, 2.5, 901])('reservedConcurrency %p is refused, naming the prop and the fix', (reservedConcurrency) => {
    expect(mistakesWithWebhook({ reservedConcurrency })).toEqual([{
      path: 'TestStack/Runners',
      message: expect.stringContaining(`webhook.reservedConcurrency (${reservedConcurrency}) must be a whole number from 1 to 900: use e.g. 20`),
    }]);
  });
});

describe('GitHubRunnerFleet with a webhook: the capacity controller on every delivery', () => {
  test('the webhook function reads the groups and raises their desired capacity, on this control plane\'s groups only', () => {
    const { template, controlPlane } = withWebhook();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.Roles.some((r: any) => /WebhookFunction/.test(r.Ref)))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual({ Sid: 'DescribeGroupCapacity', Effect: 'Allow', Action: 'autoscaling:DescribeAutoScalingGroups', Resource: '*' });
    expect(statements).toContainEqual(expect.objectContaining({
      Sid: 'RaiseDesiredCapacity',
      Action: 'autoscaling:SetDesiredCapacity',
      Condition: { StringEquals: { [`autoscaling:ResourceTag/${TagKeys.CONTROL_PLANE}`]: controlPlane.controlPlaneId } },
    }));
    // The webhook and the minute tick: the only two functions that may change a group's size.
    const raisers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.PolicyDocument.Statement.some((st: any) => [st.Action].flat().includes('autoscaling:SetDesiredCapacity')))
      .flatMap((p: any) => p.Properties.Roles.map((r: any) => r.Ref as string));
    expect(raisers.sort()).toEqual([expect.stringMatching(/IdleMetricFunction/), expect.stringMatching(/WebhookFunction/)].sort());
  });

  test('the job table grant is exactly what the job store calls: no GetItem, no scan, no delete', () => {
    const { template } = withWebhook();
    const grants = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .filter((st: any) => st.Sid === 'UseJobTable');
    expect(grants).toHaveLength(2);
    for (const grant of grants) {
      expect(grant.Action).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']);
    }
  });

  test('the same capacity-gap alarms as without a webhook: 10-second scale-out adding the whole gap (20 steps for 25), no warm-up', () => {
    const { template } = withWebhook({}, { idleRunners: 2, maxCapacity: 25 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'CapacityGap',
      Namespace: 'GitHubRunnerFleet',
      Dimensions: [{ Name: 'Fleet', Value: 'linux' }],
      Period: 10,
      Statistic: 'Maximum',
      Threshold: 0.5,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    const policies = Object.values(template.findResources('AWS::AutoScaling::ScalingPolicy')) as any[];
    const out = policies.find((p) => p.Properties.StepAdjustments.some((st: any) => st.ScalingAdjustment > 0));
    const adjustments = out.Properties.StepAdjustments.map((st: any) => st.ScalingAdjustment).sort((x: number, y: number) => x - y);
    expect(adjustments).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(out.Properties.PolicyType).toBe('StepScaling');
    expect(out.Properties.EstimatedInstanceWarmup).toBe(0);
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'IdleRunners' }, 0);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CapacityGap', ComparisonOperator: 'LessThanThreshold', Period: 60 });
  });

  test('scale from zero: minCapacity 0 and idleRunners 0 are accepted without a warning, and the scale-out alarm exists', () => {
    const { template, stack, fleet } = withWebhook({}, { minCapacity: 0, idleRunners: 0 });
    expect(fleet.scaleOutAlarm).toBeDefined();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CapacityGap', ComparisonOperator: 'GreaterThanThreshold' });
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  test('demandPeriod sets the scale-out alarm\'s period; a period CloudWatch refuses fails', () => {
    const { template } = withWebhook({}, { scaling: { demandPeriod: Duration.seconds(30) } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CapacityGap', ComparisonOperator: 'GreaterThanThreshold', Period: 30 });
    expect(mistakesWithWebhook({}, { scaling: { demandPeriod: Duration.seconds(15) } })).toEqual([{
      path: 'TestStack/Fleet',
      message: expect.stringContaining('scaling.demandPeriod (15 seconds) must be 10, 20 or 30 seconds or a multiple of 60 seconds'),
    }]);
  });

  test('directScaleOut false reaches the webhook function\'s configuration too (as absent)', () => {
    const { template } = withWebhook({}, { scaling: { directScaleOut: false } });
    const webhookFn = Object.values(template.findResources('AWS::Lambda::Function')).find((f: any) => /^Webhook:/.test(f.Properties.Description));
    expect(literalConfig(webhookFn).fleets[0]).not.toHaveProperty('directScaleOut');
    const on = withWebhook();
    const onFn = Object.values(on.template.findResources('AWS::Lambda::Function')).find((f: any) => /^Webhook:/.test(f.Properties.Description));
    expect(literalConfig(onFn).fleets[0].directScaleOut).toBe(true);
  });

  test('metric methods for the demand signal', () => {
    const { fleet, stack } = withWebhook();
    expect(stack.resolve(fleet.metricQueuedJobs().metricName)).toBe('QueuedJobs');
    expect(fleet.metricCapacityGap().statistic).toBe('Maximum');
    expect(fleet.metricJobStartSeconds().metricName).toBe('JobStartSeconds');
  });
});
