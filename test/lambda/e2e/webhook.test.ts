/**
 * The webhook function end to end: the real entry point and adapters (signature check with
 * @octokit/webhooks-methods, the DynamoDB job store, the Auto Scaling port, Powertools EMF), Function URL
 * events signed with HMAC-SHA256 as GitHub signs them; Secrets Manager, DynamoDB and Auto Scaling through
 * aws-sdk-client-mock, the table kept in a Map with the conditional writes the adapter asks for.
 */
import { workflowJobPayload } from '../fixtures';
import { lambdaContext, OutputCapture } from './harness';
import { config, functionUrlEvent, loadWebhook, SECRET } from './webhook-function';

let output: OutputCapture;
beforeEach(() => {
  output = new OutputCapture().start();
});
afterEach(() => output.stop());

describe('webhook function (Function URL) end to end', () => {
  test('a signed queued delivery: 202, the job stored, the desired capacity raised to the need, the gap left (0) published at 1-second resolution', async () => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 11, labels: ['self-hosted', 'linux', 'x64'] })), lambdaContext('webhook'));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body!)).toEqual({ message: 'job 11 queued: fleet linux' });
    expect(fn.table.get('job#11')?.status).toEqual({ S: 'queued' });
    // need = 1 queued + 0 busy + idle target 1 = 2; desired was 1.
    // The group read, and read back once after the raise (a crossing call would be undone).
    expect(fn.autoScaling.commandCalls(fn.as.DescribeAutoScalingGroupsCommand).map((c) => c.args[0].input))
      .toEqual([{ AutoScalingGroupNames: ['linux-asg'] }, { AutoScalingGroupNames: ['linux-asg'] }]);
    expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand).map((c) => c.args[0].input))
      .toEqual([{ AutoScalingGroupName: 'linux-asg', DesiredCapacity: 2, HonorCooldown: false }]);
    const line = output.metrics().find((l) => 'CapacityGap' in l)!;
    expect(line.Fleet).toBe('linux');
    expect(line.CapacityGap).toBe(0);
    expect(line.CapacityNeeded).toBe(2);
    expect(line._aws.CloudWatchMetrics[0].Metrics).toEqual(expect.arrayContaining([
      expect.objectContaining({ Name: 'CapacityGap', StorageResolution: 1 }),
      expect.objectContaining({ Name: 'CapacityNeeded', StorageResolution: 1 }),
    ]));
  });

  test('without the direct path no SetDesiredCapacity call: the whole gap is published for the alarm', async () => {
    const fn = loadWebhook({ ...config, fleets: config.fleets.map((f) => ({ ...f, directScaleOut: false })) });
    await fn.handler(functionUrlEvent(workflowJobPayload({ id: 14 })));
    await fn.handler(functionUrlEvent(workflowJobPayload({ id: 15 })));
    expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand)).toEqual([]);
    expect(output.metrics().filter((l) => 'CapacityGap' in l).map((l) => l.CapacityGap)).toEqual([1, 2]);
  });

  test('SetDesiredCapacity refused (access denied): the delivery still succeeds, the gap goes to the alarm, a warning is logged', async () => {
    const fn = loadWebhook();
    fn.autoScaling.on(fn.as.SetDesiredCapacityCommand).rejects(Object.assign(new Error('not authorized to perform: autoscaling:SetDesiredCapacity'), { name: 'AccessDenied' }));
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 16 })));
    expect(response.statusCode).toBe(202);
    expect(output.metric('CapacityGap', 'linux')).toBe(1);
    expect(output.logs().filter((l) => l.level === 'WARN')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('could not be raised'), fleet: 'linux', target: 2, errorKind: 'AccessDenied' }),
    ]);
  });

  test('a body the Function URL base64-encoded is verified over its raw bytes', async () => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 12 }), { base64: true }));
    expect(response.statusCode).toBe(202);
  });

  test.each([
    ['signed with another secret', { secret: 'not the secret' }, 401],
    ['a signature of the wrong shape', { signature: 'sha1=0123' }, 401],
  ])('%s: %s, nothing stored', async (_name, options, statusCode) => {
    const fn = loadWebhook();
    const response = await fn.handler(functionUrlEvent(workflowJobPayload(), options));
    expect(response.statusCode).toBe(statusCode);
    expect(fn.table.size).toBe(0);
    expect(output.metric('WebhookRejected', '(none)')).toBe(1);
  });

  test('a replayed delivery (same X-GitHub-Delivery) is dropped', async () => {
    const fn = loadWebhook();
    const event = functionUrlEvent(workflowJobPayload({ id: 13 }), { id: 'replayed' });
    expect((await fn.handler(event)).statusCode).toBe(202);
    const again = await fn.handler(event);
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body!).message).toBe('duplicate delivery ignored');
  });

  test('the webhook secret is read once per execution environment, not per delivery', async () => {
    const fn = loadWebhook();
    for (let id = 20; id < 25; id++) {
      await fn.handler(functionUrlEvent(workflowJobPayload({ id })));
    }
    expect(fn.secretReads()).toBe(1);
    expect(fn.table.size).toBe(10);
    // One raise per queued job: 1 + 1, 2 + 1, ... 5 + 1.
    expect(fn.autoScaling.commandCalls(fn.as.SetDesiredCapacityCommand).map((c) => c.args[0].input.DesiredCapacity)).toEqual([2, 3, 4, 5, 6]);
    expect(fn.group.desired).toBe(6);
  });

  test('queued then in_progress: the queue empties, the time to start is published in seconds', async () => {
    const fn = loadWebhook();
    await fn.handler(functionUrlEvent(workflowJobPayload({ id: 30 })));
    await fn.handler(functionUrlEvent(workflowJobPayload({
      id: 30, action: 'in_progress', startedAt: '2026-11-24T10:00:09Z', runnerName: 'linux-i-0123456789abcdef0',
    })));
    expect(fn.table.get('job#30')?.status).toEqual({ S: 'in_progress' });
    expect(output.metric('JobStartSeconds', 'linux')).toBe(9);
    const queued = output.metrics().filter((l) => 'QueuedJobs' in l).map((l) => l.QueuedJobs);
    expect(queued).toEqual([1, 0]);
  });

  test('no secret value reaches the logs', async () => {
    const fn = loadWebhook();
    await fn.handler(functionUrlEvent(workflowJobPayload(), { secret: 'wrong' }));
    await fn.handler(functionUrlEvent(workflowJobPayload()));
    expect(output.text()).not.toContain(SECRET);
  });
});

describe('webhook function: failed writes, redeliveries and foreign deliveries', () => {
  const throughput = () => Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded.'), {
    name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 },
  });

  test('the job write fails: 500, so GitHub records a failed delivery; its redelivery (same X-GitHub-Delivery) records the job once', async () => {
    const fn = loadWebhook();
    fn.jobTable.fail('UpdateItem', throughput);
    const event = functionUrlEvent(workflowJobPayload({ id: 41 }), { id: 'failed-then-redelivered' });

    const failed = await fn.handler(event, lambdaContext('webhook'));
    expect(failed.statusCode).toBe(500);
    expect(fn.table.has('job#41')).toBe(false);
    expect(fn.table.has('delivery#failed-then-redelivered')).toBe(false);

    const redelivered = await fn.handler(event, lambdaContext('webhook'));
    expect(redelivered.statusCode).toBe(202);
    expect(fn.table.get('job#41')?.status).toEqual({ S: 'queued' });
    expect(fn.table.has('delivery#failed-then-redelivered')).toBe(true);
    // The redelivery raised the group for the job: 1 queued + idle target 1.
    expect(fn.group.desired).toBe(2);
  });

  test('the claim fails after the job was written: 500; the redelivery is applied, the job written once', async () => {
    const fn = loadWebhook();
    fn.jobTable.fail('PutItem', throughput);
    const event = functionUrlEvent(workflowJobPayload({ id: 42 }), { id: 'claim-failed' });
    expect((await fn.handler(event)).statusCode).toBe(500);
    expect((await fn.handler(event)).statusCode).toBe(202);
    expect((await fn.handler(event)).statusCode).toBe(200);
    expect(fn.table.get('job#42')?.status).toEqual({ S: 'queued' });
  });

  test.each([
    ['a job of another organization (the App installed on two)', config, { organization: 'globex', repository: 'globex/app', installationId: 5 }],
    ['another repository of the organization, for a repository connection (an organization webhook in front)',
      { ...config, github: { ...config.github, scope: 'repository' as const, repo: 'app' } }, { repository: 'acme/website', installationId: null }],
  ])('%s: 202, counted as foreign, nothing stored or scaled', async (_name, withConfig, payload) => {
    const fn = loadWebhook(withConfig);
    const response = await fn.handler(functionUrlEvent(workflowJobPayload({ id: 43, ...payload })));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body!).message).toMatch(/^not for this connection: /);
    expect(fn.table.size).toBe(0);
    expect(fn.autoScaling.calls()).toEqual([]);
    expect(output.metric('ForeignDeliveries', '(none)')).toBe(1);
    expect(output.metrics().filter((l) => 'QueuedJobs' in l || 'CapacityGap' in l)).toEqual([]);
  });
});
