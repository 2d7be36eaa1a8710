import fc from 'fast-check';
import type { AgentHttpRequest } from '../../../lambda/core/instance-agent';
import { createInstanceAgentHandler } from '../../../lambda/handlers/instance-agent';
import { LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../../src/contract';
import type { ServedPrograms } from '../../../src/contract/instance-programs';
import { fleetEntry, runtimeConfig } from '../fixtures';
import { World } from './fakes';

const ACCOUNT = '123456789012';
const ME = 'i-0123456789abcdef0';
const SIBLING = 'i-0fedcba9876543210';
const config = runtimeConfig([fleetEntry({ name: 'linux' }), fleetEntry({ name: 'arm' })]);
const session = (instanceId = ME, role = 'linux-instance-role', account = ACCOUNT) => `arn:aws:sts::${account}:assumed-role/${role}/${instanceId}`;

interface RequestOptions {
  readonly userArn?: string | null;
  readonly accountId?: string;
  readonly method?: string;
  readonly noIdentity?: boolean;
}

function request(body: unknown, options: RequestOptions = {}): AgentHttpRequest {
  const userArn = options.userArn === undefined ? session() : options.userArn;
  return {
    method: options.method ?? 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    caller: options.noIdentity ? undefined : { userArn, accountId: options.accountId ?? ACCOUNT },
  };
}

/** A world in which ME and SIBLING are in service in the linux fleet's group (desired 2 of min 1). */
function world(): World {
  const w = new World();
  w.instanceGroups.set(ME, 'linux-asg');
  w.instanceGroups.set(SIBLING, 'linux-asg');
  w.group('linux-asg', { desired: 2, min: 1, max: 10 });
  return w;
}

/** The programs the agent serves here, and how often it read them. */
const PROGRAMS: ServedPrograms = { sha256: 'a'.repeat(64), installer: Buffer.from('#!/bin/bash\necho programs\n').toString('base64') };
let programReads = 0;

function agent(w: World, programs: () => ServedPrograms = () => (programReads++, PROGRAMS)) {
  return createInstanceAgentHandler({
    config,
    autoScaling: w.autoScaling,
    logger: w.logger,
    environment: { partition: 'aws', region: 'eu-west-1', accountId: ACCOUNT },
    programs,
  });
}

/** The Auto Scaling calls that act on an instance (not the Describe calls that find the caller). */
const ACTING = ['setInstanceProtection', 'recordHeartbeat', 'completeLifecycleAction', 'terminateInstance', 'setUnhealthy'];
const actingCalls = (w: World) => w.calls.filter((c) => ACTING.includes(c.method));

describe('instance agent: each action makes its one call, on the caller', () => {
  test('protect and unprotect: SetInstanceProtection on the caller in its fleet\'s group', async () => {
    const w = world();
    expect(await agent(w)(request({ action: 'protect', protected: true }))).toEqual(expect.objectContaining({ statusCode: 200 }));
    expect(w.protections.get(ME)).toBe(true);
    await agent(w)(request({ action: 'protect', protected: false }));
    expect(w.protections.get(ME)).toBe(false);
    expect(actingCalls(w).map((c) => c.args)).toEqual([['linux-asg', ME, true], ['linux-asg', ME, false]]);
  });

  test('heartbeat: RecordLifecycleActionHeartbeat by instance id with the fixed hook name', async () => {
    const w = world();
    const answer = await agent(w)(request({ action: 'heartbeat', hook: 'terminate' }));
    expect(answer.statusCode).toBe(200);
    expect(w.heartbeats).toEqual([{ autoScalingGroupName: 'linux-asg', hookName: TERMINATE_HOOK_NAME, instanceId: ME }]);
  });

  test('complete: CompleteLifecycleAction by instance id with the fixed hook name and the result', async () => {
    const w = world();
    const answer = await agent(w)(request({ action: 'complete', hook: 'launch', result: 'CONTINUE' }));
    expect(answer.statusCode).toBe(200);
    expect(w.completed).toEqual([{ action: { autoScalingGroupName: 'linux-asg', hookName: LAUNCH_HOOK_NAME, instanceId: ME }, result: 'CONTINUE' }]);
  });

  test('leave after a job: terminated with a decrement (the group shrinks)', async () => {
    const w = world();
    const answer = await agent(w)(request({ action: 'leave', after: 'job' }));
    expect(answer).toEqual(expect.objectContaining({ statusCode: 200, fields: expect.objectContaining({ decremented: true }) }));
    expect(actingCalls(w).map((c) => c.args)).toEqual([[ME, true]]);
    expect(w.group('linux-asg').desired).toBe(1);
    expect(w.terminating).toEqual(new Set([ME]));
  });

  test('leave after a job at the group\'s minimum size: the decrement is refused, so it terminates without one', async () => {
    const w = world();
    w.group('linux-asg', { desired: 1, min: 1 });
    const answer = await agent(w)(request({ action: 'leave', after: 'job' }));
    expect(answer).toEqual(expect.objectContaining({ statusCode: 200, fields: expect.objectContaining({ decremented: false }) }));
    expect(actingCalls(w).map((c) => c.args)).toEqual([[ME, true], [ME, false]]);
    expect(w.group('linux-asg').desired).toBe(1);
    expect(w.terminating).toEqual(new Set([ME]));
  });

  test('leave after a failure: never a decrement (a replacement is wanted)', async () => {
    const w = world();
    const answer = await agent(w)(request({ action: 'leave', after: 'failure' }));
    expect(answer.statusCode).toBe(200);
    expect(actingCalls(w).map((c) => c.args)).toEqual([[ME, false]]);
    expect(w.group('linux-asg').desired).toBe(2);
  });

  test('unhealthy: SetInstanceHealth for the caller', async () => {
    const w = world();
    expect((await agent(w)(request({ action: 'unhealthy' }))).statusCode).toBe(200);
    expect(w.unhealthy).toEqual(new Set([ME]));
  });

  test('whoami: the caller\'s instance, group and fleet; no acting call', async () => {
    const w = world();
    const answer = await agent(w)(request({ action: 'whoami' }, { userArn: session(ME, 'arm-instance-role') }));
    // The arm fleet's role, but the instance is in linux-asg: refused.
    expect(answer.statusCode).toBe(403);
    w.instanceGroups.set(ME, 'arm-asg');
    expect(await agent(w)(request({ action: 'whoami' }, { userArn: session(ME, 'arm-instance-role') }))).toEqual({
      statusCode: 200,
      message: `${ME} of fleet arm`,
      fields: { instanceId: ME, fleet: 'arm', autoScalingGroupName: 'arm-asg' },
    });
    expect(actingCalls(w)).toEqual([]);
  });

  test('programs: the installer and its digest, to an instance of a fleet\'s group only; no acting call', async () => {
    const w = world();
    programReads = 0;
    expect(await agent(w)(request({ action: 'programs' }))).toEqual({
      statusCode: 200,
      message: `the programs ${PROGRAMS.sha256}`,
      fields: { instanceId: ME, fleet: 'linux', sha256: PROGRAMS.sha256, installer: PROGRAMS.installer },
    });
    expect(actingCalls(w)).toEqual([]);
    expect(programReads).toBe(1);
    // Not to a role of no fleet, nor to an instance outside its fleet's group: the programs are not read.
    expect((await agent(w)(request({ action: 'programs' }, { userArn: session(ME, 'other-role') }))).statusCode).toBe(403);
    w.instanceGroups.set(ME, 'arm-asg');
    expect((await agent(w)(request({ action: 'programs' }))).statusCode).toBe(403);
    expect(programReads).toBe(1);
  });

  test('programs that cannot be read: 500, the failure logged, and the next request reads them again', async () => {
    const w = world();
    let fail = true;
    const programs = (): ServedPrograms => {
      if (fail) {
        throw new Error('ENOENT: no such file or directory, open \'/var/task/programs/lib.sh\'');
      }
      return PROGRAMS;
    };
    const handle = agent(w, programs);
    const failed = await handle(request({ action: 'programs' }));
    expect(failed).toEqual({ statusCode: 500, message: 'the programs could not be done now: retry later', fields: { instanceId: ME, fleet: 'linux' } });
    expect(w.logs).toContainEqual(expect.objectContaining({ level: 'error', message: 'Instance agent: programs failed' }));
    fail = false;
    expect((await handle(request({ action: 'programs' }))).statusCode).toBe(200);
  });
});

describe('instance agent: the instance acted on is always the caller', () => {
  test.each([
    ['instanceId', { instanceId: SIBLING }],
    ['InstanceId and InstanceIds', { InstanceId: SIBLING, InstanceIds: [SIBLING] }],
    ['a group name', { autoScalingGroupName: 'arm-asg', AutoScalingGroupName: 'arm-asg' }],
  ])('a body naming another instance (%s) acts on the caller only, and the field is logged as ignored', async (_name, extra) => {
    const w = world();
    const answer = await agent(w)(request({ action: 'leave', after: 'failure', ...extra }));
    expect(answer.statusCode).toBe(200);
    expect(actingCalls(w).map((c) => c.args)).toEqual([[ME, false]]);
    expect(w.terminating.has(SIBLING)).toBe(false);
    expect(w.logs).toContainEqual(expect.objectContaining({
      level: 'warn', message: expect.stringContaining('fields ignored'), attributes: expect.objectContaining({ ignoredFields: Object.keys(extra), instanceId: ME }),
    }));
  });

  test('property: for every body and every caller of the group, every acting call names the caller and its group only', async () => {
    const ids = fc.stringMatching(/^i-[0-9a-f]{17}$/);
    const body = fc.record({
      action: fc.constantFrom('protect', 'heartbeat', 'complete', 'leave', 'unhealthy', 'whoami', 'programs'),
      protected: fc.boolean(),
      hook: fc.constantFrom('launch', 'terminate'),
      result: fc.constantFrom('CONTINUE', 'ABANDON'),
      after: fc.constantFrom('job', 'failure'),
      instanceId: ids,
      autoScalingGroupName: fc.constantFrom('arm-asg', 'linux-asg'),
    }, { requiredKeys: ['action'] });
    await fc.assert(fc.asyncProperty(body, ids, async (fields, caller) => {
      const w = world();
      w.instanceGroups.set(caller, 'linux-asg');
      await agent(w)(request(fields, { userArn: session(caller) }));
      for (const call of actingCalls(w)) {
        const args = call.args as any[];
        switch (call.method) {
          case 'setInstanceProtection':
            expect(args.slice(0, 2)).toEqual(['linux-asg', caller]);
            break;
          case 'recordHeartbeat':
          case 'completeLifecycleAction':
            expect(args[0]).toEqual(expect.objectContaining({ autoScalingGroupName: 'linux-asg', instanceId: caller }));
            break;
          default: // terminateInstance, setUnhealthy
            expect(args[0]).toBe(caller);
        }
      }
    }), { numRuns: 300 });
  });
});

describe('instance agent: an unverified caller is refused (403) before any AWS call', () => {
  test.each([
    ['no IAM identity', request({ action: 'leave', after: 'job' }, { noIdentity: true })],
    ['an IAM user', request({ action: 'leave', after: 'job' }, { userArn: `arn:aws:iam::${ACCOUNT}:user/alice` })],
    ['a session of another role (any role may name its session after an instance)', request({ action: 'leave', after: 'job' }, { userArn: session(SIBLING, 'ci-deployer') })],
    ['another account', request({ action: 'leave', after: 'job' }, { userArn: session(ME, 'linux-instance-role', '210987654321'), accountId: '210987654321' })],
    ['a malformed body from an unverified caller', request('not json', { userArn: 'arn:aws:sts::123456789012:assumed-role/x/y' })],
    ['a GET from an unverified caller', request('', { method: 'GET', noIdentity: true })],
  ])('%s: 403, no AWS call', async (_name, req) => {
    const w = world();
    const answer = await agent(w)(req);
    expect(answer.statusCode).toBe(403);
    expect(answer.message).toMatch(/^the caller is not a runner instance of this control plane/);
    expect(w.calls).toEqual([]);
    expect(w.logs).toContainEqual(expect.objectContaining({ level: 'warn', message: 'Instance agent request refused' }));
  });

  test('property: for every ARN that is not exactly a fleet role\'s instance session, 403 and no AWS call', async () => {
    const arn = fc.oneof(
      fc.string(),
      fc.stringMatching(/^arn:aws:sts::\d{12}:assumed-role\/[a-z-]{1,20}\/[a-z0-9-]{1,20}$/),
      fc.tuple(fc.constantFrom('linux-instance-role', 'arm-instance-role', 'other-role'), fc.string({ maxLength: 20 }))
        .map(([role, name]) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${name}`),
    );
    const exact = /^arn:aws:sts::123456789012:assumed-role\/(linux|arm)-instance-role\/i-[0-9a-f]{8,17}$/;
    await fc.assert(fc.asyncProperty(arn, fc.constantFrom('{"action":"leave","after":"job"}', '{"action":"protect","protected":false}', 'x'), async (userArn, body) => {
      fc.pre(!exact.test(userArn));
      const w = world();
      const answer = await agent(w)(request(body, { userArn }));
      expect(answer.statusCode).toBe(403);
      expect(w.calls).toEqual([]);
    }), { numRuns: 500 });
  });

  test.each([
    ['in another fleet\'s group', (w: World) => w.instanceGroups.set(ME, 'arm-asg')],
    ['in a group of no fleet', (w: World) => w.instanceGroups.set(ME, 'someone-elses-asg')],
    ['in no group and not in the warm pool (launched with the profile outside the fleet)', (w: World) => w.instanceGroups.delete(ME)],
  ])('a fleet role\'s session of an instance %s: 403 after the Describe call, never an acting call', async (_name, arrange) => {
    const w = world();
    arrange(w);
    const answer = await agent(w)(request({ action: 'leave', after: 'job' }));
    expect(answer.statusCode).toBe(403);
    expect(answer.message).toContain(`${ME} is not an instance of the group of fleet linux`);
    expect(actingCalls(w)).toEqual([]);
  });

  test('an instance in the fleet\'s warm pool (not listed by DescribeAutoScalingInstances) is the fleet\'s', async () => {
    const w = world();
    w.instanceGroups.delete(ME);
    w.warmPools.set('linux-asg', [SIBLING, ME]);
    const answer = await agent(w)(request({ action: 'complete', hook: 'launch', result: 'CONTINUE' }));
    expect(answer.statusCode).toBe(200);
    expect(w.order()).toEqual(['groupOfInstance', 'listWarmPoolInstances', 'completeLifecycleAction']);
    expect(w.callsOf('listWarmPoolInstances')[0].args).toEqual(['linux-asg']);
  });

  test('the warm pool is not read for an instance listed in a group', async () => {
    const w = world();
    await agent(w)(request({ action: 'whoami' }));
    expect(w.order()).toEqual(['groupOfInstance']);
  });
});

describe('instance agent: bad requests and refusals by Auto Scaling', () => {
  test.each([
    ['GET', request('', { method: 'GET' }), 405, /only POST/],
    ['a body that is not JSON', request('leave'), 400, /not JSON/],
    ['an unknown action', request({ action: 'reboot' }), 400, /^action: expected one of "protect", "heartbeat", "complete", "leave", "unhealthy", "whoami", "programs", got "reboot"$/],
    ['a bad field', request({ action: 'complete', hook: 'terminate', result: 'OK' }), 400, /^result: expected "CONTINUE" or "ABANDON" for action "complete", got "OK"$/],
  ])('%s: %d, no AWS call', async (_name, req, statusCode, message) => {
    const w = world();
    const answer = await agent(w)(req);
    expect(answer.statusCode).toBe(statusCode);
    expect(answer.message).toMatch(message);
    expect(w.calls).toEqual([]);
  });

  test('protect on an instance already terminating: 409 with the reason, not 500', async () => {
    const w = world();
    w.terminating.add(ME);
    const answer = await agent(w)(request({ action: 'protect', protected: true }));
    expect(answer).toEqual(expect.objectContaining({ statusCode: 409, fields: expect.objectContaining({ reason: 'already-terminating' }) }));
    expect(answer.message).toMatch(/already terminating/);
  });

  test.each([
    ['heartbeat', { action: 'heartbeat', hook: 'terminate' }, TERMINATE_HOOK_NAME],
    ['complete', { action: 'complete', hook: 'launch', result: 'ABANDON' }, LAUNCH_HOOK_NAME],
  ])('%s of an action that is not waiting: 409 "no such lifecycle action"', async (_name, body, hook) => {
    const w = world();
    w.missingActions.add(`${hook}/${ME}`);
    const answer = await agent(w)(request(body));
    expect(answer.statusCode).toBe(409);
    expect(answer.message).toMatch(/^no such lifecycle action/);
  });

  test.each([
    ['leave', { action: 'leave', after: 'job' }],
    ['unhealthy', { action: 'unhealthy' }],
  ])('%s of an instance already terminating: 409 "already terminating"', async (_name, body) => {
    const w = world();
    w.terminating.add(ME);
    const answer = await agent(w)(request(body));
    expect(answer.statusCode).toBe(409);
    expect(answer.message).toMatch(/already terminating/);
  });

  test('an AWS failure: 500, logged with the instance and the action; the request can be repeated', async () => {
    const w = world();
    w.faults.add('terminateInstance', () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const answer = await agent(w)(request({ action: 'leave', after: 'job' }));
    expect(answer.statusCode).toBe(500);
    expect(w.logs).toContainEqual(expect.objectContaining({
      level: 'error', attributes: expect.objectContaining({ instanceId: ME, fleet: 'linux', action: 'leave', errorKind: 'Throttling' }),
    }));
    expect((await agent(w)(request({ action: 'leave', after: 'job' }))).statusCode).toBe(200);
  });

  test('the caller\'s group cannot be read: 500, no acting call', async () => {
    const w = world();
    w.faults.add('groupOfInstance', () => Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    expect((await agent(w)(request({ action: 'leave', after: 'job' }))).statusCode).toBe(500);
    expect(actingCalls(w)).toEqual([]);
  });
});
