import fc from 'fast-check';
import {
  ACTION_NAMES, AgentAction, answerBody, answerFor, groupDecision, hookName, MAX_AGENT_BODY_BYTES, parseAgentRequest, planCall, verifyCaller,
  VerifiedCaller,
} from '../../../lambda/core/instance-agent';
import { LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../../src/contract';
import { fleetEntry } from '../fixtures';

const ACCOUNT = '123456789012';
const ENV = { partition: 'aws', accountId: ACCOUNT };
const FLEETS = [fleetEntry({ name: 'linux' }), fleetEntry({ name: 'arm', instanceRoleName: 'Stack-ArmInstanceRole-1AB2C3' })];
const ID = 'i-0123456789abcdef0';
const session = (role: string, instanceId = ID, account = ACCOUNT, partition = 'aws') => `arn:${partition}:sts::${account}:assumed-role/${role}/${instanceId}`;
const caller = (userArn: string | null | undefined, accountId: string | null = ACCOUNT) => ({ userArn, accountId });

describe('verifyCaller', () => {
  test.each([
    ['a session of the linux fleet\'s role', session('linux-instance-role'), 'linux'],
    ['a session of the arm fleet\'s role', session('Stack-ArmInstanceRole-1AB2C3'), 'arm'],
    ['an 8-digit instance id', session('linux-instance-role', 'i-0123abcd'), 'linux'],
  ])('accepts %s', (_name, arn, fleet) => {
    const check = verifyCaller(caller(arn), ENV, FLEETS);
    expect(check).toEqual(expect.objectContaining({ ok: true, instanceId: arn.split('/')[2] }));
    expect(check.ok && check.fleet.name).toBe(fleet);
  });

  test.each([
    ['no identity (no IAM auth, or a direct invocation)', undefined, /no IAM identity/],
    ['an empty ARN', caller(''), /no IAM identity/],
    ['a null ARN', caller(null), /no IAM identity/],
    ['an IAM user', caller(`arn:aws:iam::${ACCOUNT}:user/alice`), /not an EC2 instance-profile session/],
    ['an IAM role ARN (not a session)', caller(`arn:aws:iam::${ACCOUNT}:role/linux-instance-role`), /not an EC2 instance-profile session/],
    ['a session not named after an instance', caller(session('linux-instance-role', 'alice')), /not an EC2 instance-profile session/],
    ['an instance id with upper-case hex', caller(session('linux-instance-role', 'i-0123456789ABCDEF0')), /not an EC2 instance-profile session/],
    ['an instance id too long', caller(session('linux-instance-role', 'i-0123456789abcdef01')), /not an EC2 instance-profile session/],
    ['an instance id too short', caller(session('linux-instance-role', 'i-0123abc')), /not an EC2 instance-profile session/],
    ['a session name with a suffix', caller(`${session('linux-instance-role')}/x`), /not an EC2 instance-profile session/],
    ['a federated user', caller(`arn:aws:sts::${ACCOUNT}:federated-user/i-0123456789abcdef0`), /not an EC2 instance-profile session/],
    ['the root user', caller(`arn:aws:iam::${ACCOUNT}:root`), /not an EC2 instance-profile session/],
    ['another account in the ARN', caller(session('linux-instance-role', ID, '210987654321')), /not a session of account 123456789012/],
    ['another account in the authorizer', caller(session('linux-instance-role'), '210987654321'), /not a session of account 123456789012/],
    ['no account in the authorizer', caller(session('linux-instance-role'), null), /not a session of account 123456789012/],
    ['another partition', caller(session('linux-instance-role', ID, ACCOUNT, 'aws-cn')), /not a session of account/],
    ['a role that is no fleet\'s', caller(session('some-admin-role')), /role some-admin-role is not the instance role of any fleet/],
    ['a role name differing in case', caller(session('Linux-Instance-Role')), /is not the instance role of any fleet/],
  ])('refuses %s', (_name, who, reason) => {
    const check = verifyCaller(who, ENV, FLEETS);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(reason);
  });

  test('property: only the exact session ARN of a fleet role, an instance id and our account is accepted', () => {
    const hex = fc.constantFrom(...'0123456789abcdef');
    const instanceId = fc.oneof(
      fc.stringMatching(/^i-[0-9a-f]{8}$/), fc.stringMatching(/^i-[0-9a-f]{17}$/),
      fc.string({ unit: hex, minLength: 8, maxLength: 17 }).map((h) => `i-${h}`),
    );
    const validArn = fc.tuple(fc.constantFrom(...FLEETS.map((f) => f.instanceRoleName)), instanceId).map(([role, id]) => session(role, id));
    // One-character mutations of a valid ARN: accepted only when the result is still exactly a valid one
    // (a hex digit for another names another instance of the same role).
    const mutated = fc.tuple(validArn, fc.nat(), fc.constantFrom('insert', 'delete', 'replace', 'prefix', 'suffix'), fc.string({ minLength: 1, maxLength: 1 }))
      .map(([arn, at, op, ch]) => {
        const i = at % arn.length;
        switch (op) {
          case 'insert': return arn.slice(0, i) + ch + arn.slice(i);
          case 'delete': return arn.slice(0, i) + arn.slice(i + 1);
          case 'replace': return arn.slice(0, i) + ch + arn.slice(i + 1);
          case 'prefix': return ch + arn;
          default: return arn + ch;
        }
      });
    const isValid = (arn: string) => {
      const m = /^arn:aws:sts::123456789012:assumed-role\/([^/]+)\/(i-[0-9a-f]{8,17})$/.exec(arn);
      return m !== null && FLEETS.some((f) => f.instanceRoleName === m[1]);
    };
    fc.assert(fc.property(fc.oneof(validArn, mutated, fc.string(), fc.string({ unit: 'binary' })), (arn) => {
      const check = verifyCaller(caller(arn), ENV, FLEETS);
      expect(check.ok).toBe(isValid(arn));
      if (check.ok) {
        expect(arn.endsWith(`/${check.fleet.instanceRoleName}/${check.instanceId}`)).toBe(true);
      }
    }), { numRuns: 2000 });
  });
});

describe('groupDecision', () => {
  test.each([
    ['linux-asg', 'member'],
    ['arm-asg', 'other-group'],
    ['linux-asg-2', 'other-group'],
    [undefined, 'unlisted'],
    ['', 'unlisted'],
  ] as const)('listed in %p: %s', (listed, expected) => {
    expect(groupDecision(FLEETS[0], listed)).toBe(expected);
  });
});

describe('parseAgentRequest', () => {
  test.each([
    [{ action: 'protect', protected: true }, { action: 'protect', protected: true }],
    [{ action: 'protect', protected: false }, { action: 'protect', protected: false }],
    [{ action: 'heartbeat', hook: 'terminate' }, { action: 'heartbeat', hook: 'terminate' }],
    [{ action: 'complete', hook: 'launch', result: 'ABANDON' }, { action: 'complete', hook: 'launch', result: 'ABANDON' }],
    [{ action: 'leave', after: 'job' }, { action: 'leave', after: 'job' }],
    [{ action: 'leave', after: 'failure' }, { action: 'leave', after: 'failure' }],
    [{ action: 'unhealthy' }, { action: 'unhealthy' }],
    [{ action: 'whoami' }, { action: 'whoami' }],
    [{ action: 'programs' }, { action: 'programs' }],
  ])('reads %j', (body, request) => {
    expect(parseAgentRequest('POST', JSON.stringify(body))).toEqual({ ok: true, request, ignoredFields: [] });
  });

  test('fields naming an instance (or anything else) are ignored and listed, never part of the request', () => {
    const parsed = parseAgentRequest('POST', JSON.stringify({ action: 'leave', after: 'job', instanceId: 'i-0fffffffffffffff0', InstanceIds: ['i-1'], extra: 1 }));
    expect(parsed).toEqual({ ok: true, request: { action: 'leave', after: 'job' }, ignoredFields: ['instanceId', 'InstanceIds', 'extra'] });
  });

  test.each([
    ['GET', '{"action":"whoami"}', 405, 'only POST is accepted, got GET'],
    ['PUT', '', 405, 'only POST is accepted, got PUT'],
    ['POST', '', 400, 'the body is not JSON'],
    ['POST', 'action=whoami', 400, 'the body is not JSON'],
    ['POST', '[]', 400, 'the body is not a JSON object'],
    ['POST', 'null', 400, 'the body is not a JSON object'],
    ['POST', '"whoami"', 400, 'the body is not a JSON object'],
    ['POST', '{}', 400, 'action: expected one of "protect", "heartbeat", "complete", "leave", "unhealthy", "whoami", "programs", got nothing'],
    ['POST', '{"action":"terminate"}', 400, 'action: expected one of "protect", "heartbeat", "complete", "leave", "unhealthy", "whoami", "programs", got "terminate"'],
    ['POST', '{"action":"protect"}', 400, 'protected: expected true or false for action "protect", got nothing'],
    ['POST', '{"action":"protect","protected":"true"}', 400, 'protected: expected true or false for action "protect", got "true"'],
    ['POST', '{"action":"heartbeat","hook":"Launch"}', 400, 'hook: expected "launch" or "terminate" for action "heartbeat", got "Launch"'],
    ['POST', '{"action":"heartbeat","hook":"github-runner-fleet-launch"}', 400, 'hook: expected "launch" or "terminate"'],
    ['POST', '{"action":"complete","hook":"terminate"}', 400, 'result: expected "CONTINUE" or "ABANDON" for action "complete", got nothing'],
    ['POST', '{"action":"complete","hook":"terminate","result":"continue"}', 400, 'result: expected "CONTINUE" or "ABANDON" for action "complete", got "continue"'],
    ['POST', '{"action":"leave"}', 400, 'after: expected "job" or "failure" for action "leave", got nothing'],
    ['POST', '{"action":"leave","after":"i-0123456789abcdef0"}', 400, 'after: expected "job" or "failure" for action "leave", got "i-0123456789abcdef0"'],
    ['POST', JSON.stringify({ action: 'whoami', pad: 'x'.repeat(MAX_AGENT_BODY_BYTES) }), 400, `the body is larger than ${MAX_AGENT_BODY_BYTES} bytes`],
  ])('%s %s: %d', (method, body, statusCode, message) => {
    const parsed = parseAgentRequest(method, body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.answer.statusCode).toBe(statusCode);
    expect(!parsed.ok && parsed.answer.message).toContain(message);
  });

  test('a long bad value is shortened in the message', () => {
    const parsed = parseAgentRequest('POST', JSON.stringify({ action: 'x'.repeat(500) }));
    expect(!parsed.ok && parsed.answer.message.length).toBeLessThan(200);
  });

  test('property: any body is read or refused with 400, never thrown on; a request holds only its action\'s fields', () => {
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({
        action: fc.oneof(fc.constantFrom(...ACTION_NAMES), fc.string()),
        protected: fc.oneof(fc.boolean(), fc.string()),
        hook: fc.oneof(fc.constantFrom('launch', 'terminate'), fc.string()),
        result: fc.constantFrom('CONTINUE', 'ABANDON', 'x'),
        after: fc.constantFrom('job', 'failure', 'x'),
        instanceId: fc.string(),
      }, { requiredKeys: ['action'] }).map((o) => JSON.stringify(o)),
    );
    fc.assert(fc.property(body, (text) => {
      const parsed = parseAgentRequest('POST', text);
      if (!parsed.ok) {
        expect(parsed.answer.statusCode).toBe(400);
        return;
      }
      expect(Object.keys(parsed.request).sort()).toEqual(['action', ...Object.keys(ACTION_FIELDS_OF(parsed.request))].sort());
      expect(parsed.request).not.toHaveProperty('instanceId');
    }), { numRuns: 1000 });
  });
});

/** The field names an action takes (from the request itself: everything but `action`). */
function ACTION_FIELDS_OF(request: AgentAction): Record<string, unknown> {
  const { action: _action, ...fields } = request;
  return fields;
}

describe('planCall', () => {
  const linux: VerifiedCaller = { instanceId: ID, fleet: FLEETS[0] };
  test.each<[AgentAction, unknown]>([
    [{ action: 'protect', protected: true }, { call: 'setInstanceProtection', autoScalingGroupName: 'linux-asg', instanceId: ID, protected: true }],
    [{ action: 'heartbeat', hook: 'launch' },
      { call: 'recordHeartbeat', action: { autoScalingGroupName: 'linux-asg', hookName: LAUNCH_HOOK_NAME, instanceId: ID } }],
    [{ action: 'complete', hook: 'terminate', result: 'CONTINUE' },
      { call: 'completeLifecycleAction', action: { autoScalingGroupName: 'linux-asg', hookName: TERMINATE_HOOK_NAME, instanceId: ID }, result: 'CONTINUE' }],
    [{ action: 'leave', after: 'job' }, { call: 'terminateInstance', instanceId: ID, decrements: [true, false] }],
    [{ action: 'leave', after: 'failure' }, { call: 'terminateInstance', instanceId: ID, decrements: [false] }],
    [{ action: 'unhealthy' }, { call: 'setUnhealthy', instanceId: ID }],
    [{ action: 'whoami' }, { call: 'none' }],
  ])('%j → %j', (request, call) => {
    expect(planCall(request, linux)).toEqual(call);
  });

  test('hook names are the fleet\'s, and the fixed ones of the contract for a fleet that names none', () => {
    expect(hookName('launch', {})).toBe('github-runner-fleet-launch');
    expect(hookName('terminate', {})).toBe('github-runner-fleet-terminate');
    const named = { launchHookName: 'github-runner-fleet-launch-0a1b2c3d', terminateHookName: 'github-runner-fleet-terminate-0a1b2c3d' };
    expect(hookName('launch', named)).toBe('github-runner-fleet-launch-0a1b2c3d');
    expect(hookName('terminate', named)).toBe('github-runner-fleet-terminate-0a1b2c3d');
    const namedCaller = { instanceId: linux.instanceId, fleet: { ...linux.fleet, ...named } };
    expect(planCall({ action: 'complete', hook: 'terminate', result: 'CONTINUE' }, namedCaller)).toEqual({
      call: 'completeLifecycleAction',
      action: { autoScalingGroupName: linux.fleet.autoScalingGroupName, hookName: 'github-runner-fleet-terminate-0a1b2c3d', instanceId: linux.instanceId },
      result: 'CONTINUE',
    });
  });

  test('property: whatever the body says, the call acts on the caller\'s instance and its fleet\'s group only', () => {
    const otherIds = fc.stringMatching(/^i-[0-9a-f]{17}$/);
    const body = fc.record({
      action: fc.constantFrom(...ACTION_NAMES),
      protected: fc.boolean(),
      hook: fc.constantFrom('launch', 'terminate'),
      result: fc.constantFrom('CONTINUE', 'ABANDON'),
      after: fc.constantFrom('job', 'failure'),
      instanceId: otherIds,
      InstanceId: otherIds,
      autoScalingGroupName: fc.string(),
      AutoScalingGroupName: fc.string(),
    });
    fc.assert(fc.property(body, otherIds, fc.constantFrom(...FLEETS), (fields, callerId, fleet) => {
      const parsed = parseAgentRequest('POST', JSON.stringify(fields));
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      const call = planCall(parsed.request, { instanceId: callerId, fleet }) as Record<string, any>;
      const ids = [call.instanceId, call.action?.instanceId].filter((v) => v !== undefined);
      const groups = [call.autoScalingGroupName, call.action?.autoScalingGroupName].filter((v) => v !== undefined);
      expect(ids.every((id) => id === callerId)).toBe(true);
      expect(groups.every((g) => g === fleet.autoScalingGroupName)).toBe(true);
      expect(['none', 'programs'].includes(call.call) || ids.length === 1).toBe(true);
    }), { numRuns: 1000 });
  });
});

describe('answerFor', () => {
  const linux: VerifiedCaller = { instanceId: ID, fleet: FLEETS[0] };
  test.each<[AgentAction, Parameters<typeof answerFor>[2], boolean | undefined, number, RegExp, Record<string, unknown>]>([
    [{ action: 'whoami' }, 'none', undefined, 200, /i-0123456789abcdef0 of fleet linux/, { instanceId: ID, fleet: 'linux', autoScalingGroupName: 'linux-asg' }],
    [{ action: 'protect', protected: true }, 'done', undefined, 200, /is now protected/, { protected: true }],
    [{ action: 'protect', protected: false }, 'done', undefined, 200, /is no longer protected/, { protected: false }],
    [{ action: 'protect', protected: true }, 'not-in-service', undefined, 409, /already terminating/, { reason: 'already-terminating' }],
    [{ action: 'heartbeat', hook: 'terminate' }, true, undefined, 200, /extended by one heartbeat/, { hook: 'terminate' }],
    [{ action: 'heartbeat', hook: 'terminate' }, false, undefined, 409, /^no such lifecycle action/, { reason: 'no-such-lifecycle-action' }],
    [{ action: 'complete', hook: 'launch', result: 'ABANDON' }, true, undefined, 200, /completed with ABANDON/, { result: 'ABANDON' }],
    [{ action: 'complete', hook: 'launch', result: 'CONTINUE' }, false, undefined, 409, /^no such lifecycle action: no launch action/, { hook: 'launch' }],
    [{ action: 'leave', after: 'job' }, 'done', true, 200, /shrinks by one/, { decremented: true }],
    [{ action: 'leave', after: 'job' }, 'done', false, 200, /launches a replacement/, { decremented: false }],
    [{ action: 'leave', after: 'failure' }, 'not-in-service', false, 409, /already terminating/, { reason: 'already-terminating' }],
    [{ action: 'leave', after: 'job' }, 'at-min-size', undefined, 409, /minimum size/, { reason: 'at-min-size' }],
    [{ action: 'unhealthy' }, 'done', undefined, 200, /replaces it/, { instanceId: ID }],
    [{ action: 'unhealthy' }, 'not-found', undefined, 409, /no longer an instance of its group/, { fleet: 'linux' }],
  ])('%j with %p: %d', (request, outcome, decremented, statusCode, message, fields) => {
    const answer = answerFor(request, linux, outcome, decremented);
    expect(answer.statusCode).toBe(statusCode);
    expect(answer.message).toMatch(message);
    expect(answer.fields).toEqual(expect.objectContaining(fields));
    expect(answerBody(answer)).toEqual(expect.objectContaining({ ok: statusCode === 200, message: answer.message }));
  });

  test('programs: the installer and its digest beside the caller; 500 when there are none to serve', () => {
    const programs = { sha256: 'b'.repeat(64), installer: 'IyEvYmluL2Jhc2gK' };
    expect(answerFor({ action: 'programs' }, linux, 'none', undefined, programs)).toEqual({
      statusCode: 200, message: `the programs ${'b'.repeat(64)}`, fields: { instanceId: ID, fleet: 'linux', ...programs },
    });
    expect(answerFor({ action: 'programs' }, linux, 'none')).toEqual({ statusCode: 500, message: 'the agent has no programs to serve', fields: { instanceId: ID, fleet: 'linux' } });
  });

  test('the body\'s ok and message cannot be overridden by fields', () => {
    expect(answerBody({ statusCode: 409, message: 'm', fields: { ok: true, message: 'x' } })).toEqual({ ok: false, message: 'm' });
  });
});
