import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GitHubRunnerControlPlane, GitHubRunnerFleet } from '../../src';
import { ASYNC_INVOKE } from '../../src/lifecycle/async-invoke';
import { testStack } from '../fleet/helpers';

/** A control plane with a webhook (five functions: three invoked asynchronously, two synchronously). */
function controlPlaneStack() {
  const ctx = testStack();
  const controlPlane = new GitHubRunnerControlPlane(ctx.stack, 'Runners', { github: ctx.github, webhook: {} });
  new GitHubRunnerFleet(ctx.stack, 'Fleet', { vpc: ctx.vpc, controlPlane, labels: ['linux'], fleetName: 'linux', spot: {}, warmPool: { enabled: false } });
  const template = Template.fromStack(ctx.stack);
  const logicalId = (fn: unknown) => ctx.stack.getLogicalId((fn as any).node.defaultChild);
  const queueId = ctx.stack.getLogicalId((controlPlane.deadLetterQueue as any).node.defaultChild);
  return { ...ctx, controlPlane, template, logicalId, queueId };
}

describe('failed asynchronous invocations land in the dead-letter queue', () => {
  test('each event-driven function sends what still fails after Lambda\'s retries (or waited too long) to the queue, with the settings chosen', () => {
    const { controlPlane, template, logicalId, queueId } = controlPlaneStack();
    const configs = template.findResources('AWS::Lambda::EventInvokeConfig');
    const byFunction = Object.fromEntries(Object.values(configs).map((c: any) => [c.Properties.FunctionName.Ref, c.Properties]));
    const expected = [
      [controlPlane.registrationFunction, ASYNC_INVOKE.registration],
      [controlPlane.deregistrationFunction, ASYNC_INVOKE.deregistration],
      [controlPlane.idleMetricFunction, ASYNC_INVOKE.idleMetric],
    ] as const;
    expect(Object.keys(byFunction).sort()).toEqual(expected.map(([fn]) => logicalId(fn)).sort());
    for (const [fn, settings] of expected) {
      expect(byFunction[logicalId(fn)]).toEqual({
        FunctionName: { Ref: logicalId(fn) },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: settings.retryAttempts,
        MaximumEventAgeInSeconds: settings.maxEventAge.toSeconds(),
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      });
    }
  });

  test('the settings are deliberate: lifecycle events retried twice within an hour, the minute tick never retried', () => {
    expect(ASYNC_INVOKE.registration).toEqual({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    expect(ASYNC_INVOKE.deregistration).toEqual({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    expect(ASYNC_INVOKE.idleMetric).toEqual({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
  });

  test('each of those functions may send to the queue (Lambda sends with the function\'s role), and no other function may', () => {
    const { controlPlane, template, stack, queueId } = controlPlaneStack();
    const roleOf = (fn: any) => stack.getLogicalId(fn.role.node.defaultChild);
    const senders = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: any) => p.Properties.PolicyDocument.Statement.some((s: any) => [s.Action].flat().includes('sqs:SendMessage')
        && s.Effect === 'Allow' && JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] })))
      .flatMap((p: any) => p.Properties.Roles.map((r: any) => r.Ref));
    const eventDriven = [controlPlane.registrationFunction, controlPlane.deregistrationFunction, controlPlane.idleMetricFunction];
    expect([...new Set(senders)].sort()).toEqual(eventDriven.map(roleOf).sort());
  });

  test('the EventBridge targets keep their own dead-letter queue (undeliverable events), the same queue', () => {
    const { template, queueId } = controlPlaneStack();
    const targets = Object.values(template.findResources('AWS::Events::Rule')).flatMap((r: any) => r.Properties.Targets);
    // Launch, terminate, sweep, minute tick, spot interruptions.
    expect(targets).toHaveLength(5);
    for (const target of targets) {
      expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 });
    }
  });
});
