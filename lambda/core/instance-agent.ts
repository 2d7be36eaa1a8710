import { LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import type { ServedPrograms } from '../../src/contract/instance-programs';
import type { InstanceActionOutcome, LifecycleActionRef, LifecycleResult, RuntimeEnvironment, TerminateOutcome } from '../ports';

/**
 * The instance agent's decisions: who the caller is, what it asks, what that comes to. A runner
 * instance calls the agent (a Function URL with AWS_IAM auth) with its instance-profile credentials; the
 * agent acts on that instance only, whatever the request says.
 */

/** The identity Lambda verified for a Function URL request (`requestContext.authorizer.iam`). */
export interface AgentCaller {
  readonly userArn?: string | null;
  readonly accountId?: string | null;
}

/** A request to the agent, as the Function URL delivered it (body decoded). */
export interface AgentHttpRequest {
  readonly method: string;
  readonly body: string;
  /** Absent when the request carries no IAM identity (it never does with AWS_IAM auth; a direct invoke might). */
  readonly caller?: AgentCaller;
}

/** The agent's answer: its status code, a reason, and the extra fields of the JSON body. */
export interface AgentAnswer {
  readonly statusCode: 200 | 400 | 403 | 405 | 409 | 500;
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** The JSON body of an answer: `ok` is true exactly for 200. */
export function answerBody(answer: AgentAnswer): Record<string, unknown> {
  return { ...answer.fields, ok: answer.statusCode === 200, message: answer.message };
}

/** Larger bodies are malformed: every request of the agent is a few dozen bytes. */
export const MAX_AGENT_BODY_BYTES = 4096;

// ---------------------------------------------------------------------------------------------------
// The caller

/** An EC2 instance id as EC2 writes it (8 or 17 hex digits; the range admits both). */
export const INSTANCE_ID_PATTERN = /^i-[0-9a-f]{8,17}$/;

/**
 * The role session of an EC2 instance profile: `arn:<partition>:sts::<account>:assumed-role/<role>/<instance
 * id>`. EC2 names the session after the instance; nobody else can, for a role whose trust policy admits
 * only ec2.amazonaws.com (the fleets' instance roles).
 */
const INSTANCE_SESSION_ARN = /^arn:([a-z][a-z0-9-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/(i-[0-9a-f]{8,17})$/;

/** The caller, verified, and the fleet whose instance role it holds. */
export interface VerifiedCaller {
  readonly instanceId: string;
  readonly fleet: FleetRuntimeEntry;
}

export type CallerCheck = ({ readonly ok: true } & VerifiedCaller) | { readonly ok: false; readonly reason: string };

/**
 * Who is calling: accepted only when the verified ARN is exactly an instance-profile session of one of
 * the fleets' instance roles, in the function's own partition and account (the ARN's account and the
 * authorizer's `accountId` both). Anything else is refused with the reason, for the log.
 */
export function verifyCaller(
  caller: AgentCaller | undefined,
  environment: Pick<RuntimeEnvironment, 'partition' | 'accountId'>,
  fleets: readonly FleetRuntimeEntry[],
): CallerCheck {
  const arn = caller?.userArn;
  if (typeof arn !== 'string' || arn === '') {
    return { ok: false, reason: 'the request carries no IAM identity' };
  }
  const match = INSTANCE_SESSION_ARN.exec(arn);
  if (!match) {
    return { ok: false, reason: `${arn} is not an EC2 instance-profile session (arn:<partition>:sts::<account>:assumed-role/<role>/<instance id>)` };
  }
  const [, partition, account, roleName, instanceId] = match;
  if (partition !== environment.partition || account !== environment.accountId || caller?.accountId !== environment.accountId) {
    return { ok: false, reason: `${arn} is not a session of account ${environment.accountId} (${environment.partition})` };
  }
  const fleet = fleets.find((f) => f.instanceRoleName === roleName);
  if (!fleet) {
    return { ok: false, reason: `role ${roleName} is not the instance role of any fleet of this control plane` };
  }
  return { ok: true, instanceId, fleet };
}

/**
 * Where DescribeAutoScalingInstances puts the caller's instance, against its fleet's group:
 * - `member`: in the fleet's group
 * - `other-group`: in another group (a role reused outside its fleet): refused
 * - `unlisted`: in no group's list; a warm-pool instance may not be listed, so its fleet's warm pool decides
 */
export function groupDecision(fleet: FleetRuntimeEntry, listedGroup: string | undefined): 'member' | 'other-group' | 'unlisted' {
  if (listedGroup === undefined || listedGroup === '') {
    return 'unlisted';
  }
  return listedGroup === fleet.autoScalingGroupName ? 'member' : 'other-group';
}

// ---------------------------------------------------------------------------------------------------
// The request

export type LifecycleHookKind = 'launch' | 'terminate';

/** What the caller may ask for its own instance. No action names an instance: the caller is the instance. */
export type AgentAction =
  | { readonly action: 'protect'; readonly protected: boolean }
  | { readonly action: 'heartbeat'; readonly hook: LifecycleHookKind }
  | { readonly action: 'complete'; readonly hook: LifecycleHookKind; readonly result: LifecycleResult }
  | { readonly action: 'leave'; readonly after: 'job' | 'failure' }
  | { readonly action: 'unhealthy' }
  | { readonly action: 'whoami' }
  /** The program installer of the agent's release, which the instance's user data checks against its pinned digest. */
  | { readonly action: 'programs' };

export type AgentActionName = AgentAction['action'];

/** Each action's fields and the values each may take (compared with ===: `true`, not `"true"`). */
export const ACTION_FIELDS: Readonly<Record<AgentActionName, Readonly<Record<string, readonly (string | boolean)[]>>>> = {
  protect: { protected: [true, false] },
  heartbeat: { hook: ['launch', 'terminate'] },
  complete: { hook: ['launch', 'terminate'], result: ['CONTINUE', 'ABANDON'] },
  leave: { after: ['job', 'failure'] },
  unhealthy: {},
  whoami: {},
  programs: {},
};

export const ACTION_NAMES = Object.keys(ACTION_FIELDS) as AgentActionName[];

export type ParsedAgentRequest =
  | { readonly ok: true; readonly request: AgentAction; readonly ignoredFields: string[] }
  | { readonly ok: false; readonly answer: AgentAnswer };

/**
 * Reads a request: `POST` with a JSON object `{ "action": ..., <the action's fields> }`. A missing or bad
 * field is named with the values it may take (400). Every other field (an `instanceId`, anything) is
 * ignored and returned in `ignoredFields`, for a warning: the instance acted on is always the caller.
 */
export function parseAgentRequest(method: string, body: string): ParsedAgentRequest {
  if (method.toUpperCase() !== 'POST') {
    return refuse(405, `only POST is accepted, got ${method}`);
  }
  if (Buffer.byteLength(body, 'utf8') > MAX_AGENT_BODY_BYTES) {
    return refuse(400, `the body is larger than ${MAX_AGENT_BODY_BYTES} bytes`);
  }
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return refuse(400, 'the body is not JSON: send {"action": ...}');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return refuse(400, 'the body is not a JSON object: send {"action": ...}');
  }
  const fields = data as Record<string, unknown>;
  const action = fields.action;
  if (typeof action !== 'string' || !(ACTION_NAMES as string[]).includes(action)) {
    return refuse(400, `action: expected one of ${ACTION_NAMES.map((a) => JSON.stringify(a)).join(', ')}, got ${shown(action)}`);
  }
  const allowed = ACTION_FIELDS[action as AgentActionName];
  for (const [name, values] of Object.entries(allowed)) {
    if (!values.includes(fields[name] as string | boolean)) {
      return refuse(400, `${name}: expected ${alternatives(values)} for action "${action}", got ${shown(fields[name])}`);
    }
  }
  const request = Object.fromEntries([['action', action], ...Object.keys(allowed).map((name) => [name, fields[name]])]) as AgentAction;
  const ignoredFields = Object.keys(fields).filter((name) => name !== 'action' && !(name in allowed));
  return { ok: true, request, ignoredFields };
}

function refuse(statusCode: 400 | 405, message: string): ParsedAgentRequest {
  return { ok: false, answer: { statusCode, message } };
}

function alternatives(values: readonly (string | boolean)[]): string {
  const shownValues = values.map((v) => JSON.stringify(v));
  return shownValues.length <= 2 ? shownValues.join(' or ') : `one of ${shownValues.join(', ')}`;
}

function shown(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }
  const text = JSON.stringify(value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

// ---------------------------------------------------------------------------------------------------
// The call and its answer

/** The name of the fleet's hook for the request's `hook` (the contract's fixed names when its configuration names none). */
export function hookName(hook: LifecycleHookKind, fleet: Pick<FleetRuntimeEntry, 'launchHookName' | 'terminateHookName'>): string {
  return hook === 'launch' ? fleet.launchHookName ?? LAUNCH_HOOK_NAME : fleet.terminateHookName ?? TERMINATE_HOOK_NAME;
}

/** The Auto Scaling call an action makes, always on the caller's instance and its fleet's group. */
export type AgentCall =
  | { readonly call: 'setInstanceProtection'; readonly autoScalingGroupName: string; readonly instanceId: string; readonly protected: boolean }
  | { readonly call: 'recordHeartbeat'; readonly action: LifecycleActionRef }
  | { readonly call: 'completeLifecycleAction'; readonly action: LifecycleActionRef; readonly result: LifecycleResult }
  | { readonly call: 'terminateInstance'; readonly instanceId: string; readonly decrements: readonly boolean[] }
  | { readonly call: 'setUnhealthy'; readonly instanceId: string }
  | { readonly call: 'programs' }
  | { readonly call: 'none' };

/**
 * What to call for a verified caller's request. `terminateInstance` lists the decrement settings to try
 * in order: after a job, shrink the group (`true`), and if AWS refuses that at the group's minimum size,
 * terminate without it (`false`, a replacement comes); after a failure, never shrink (a replacement is
 * wanted).
 */
export function planCall(request: AgentAction, caller: VerifiedCaller): AgentCall {
  const { instanceId } = caller;
  const autoScalingGroupName = caller.fleet.autoScalingGroupName;
  switch (request.action) {
    case 'protect':
      return { call: 'setInstanceProtection', autoScalingGroupName, instanceId, protected: request.protected };
    case 'heartbeat':
      return { call: 'recordHeartbeat', action: { autoScalingGroupName, hookName: hookName(request.hook, caller.fleet), instanceId } };
    case 'complete':
      return { call: 'completeLifecycleAction', action: { autoScalingGroupName, hookName: hookName(request.hook, caller.fleet), instanceId }, result: request.result };
    case 'leave':
      return { call: 'terminateInstance', instanceId, decrements: request.after === 'job' ? [true, false] : [false] };
    case 'unhealthy':
      return { call: 'setUnhealthy', instanceId };
    case 'whoami':
      return { call: 'none' };
    case 'programs':
      return { call: 'programs' };
  }
}

/**
 * What a call's outcome means for the caller. `decremented` is the setting a successful leave used;
 * `programs`, what a programs request is served.
 */
export function answerFor(
  request: AgentAction,
  caller: VerifiedCaller,
  outcome: boolean | TerminateOutcome | InstanceActionOutcome | 'none',
  decremented?: boolean,
  programs?: ServedPrograms,
): AgentAnswer {
  const id = caller.instanceId;
  const identity = { instanceId: id, fleet: caller.fleet.name };
  if (outcome === 'not-found') {
    return { statusCode: 409, message: `${id} is no longer an instance of its group`, fields: identity };
  }
  if (outcome === 'not-in-service') {
    return {
      statusCode: 409,
      message: `${id} is already terminating (or not in service): Auto Scaling refused the ${request.action}`,
      fields: { ...identity, reason: 'already-terminating' },
    };
  }
  switch (request.action) {
    case 'whoami':
      return { statusCode: 200, message: `${id} of fleet ${caller.fleet.name}`, fields: { ...identity, autoScalingGroupName: caller.fleet.autoScalingGroupName } };
    case 'protect':
      return { statusCode: 200, message: `${id} is ${request.protected ? 'now' : 'no longer'} protected from scale-in`, fields: { ...identity, protected: request.protected } };
    case 'heartbeat':
    case 'complete':
      if (outcome === false) {
        return {
          statusCode: 409,
          message: `no such lifecycle action: no ${request.hook} action of ${id} is waiting (completed, timed out, or never started)`,
          fields: { ...identity, reason: 'no-such-lifecycle-action', hook: request.hook },
        };
      }
      return request.action === 'heartbeat'
        ? { statusCode: 200, message: `the ${request.hook} action of ${id} is extended by one heartbeat timeout`, fields: { ...identity, hook: request.hook } }
        : { statusCode: 200, message: `the ${request.hook} action of ${id} is completed with ${request.result}`, fields: { ...identity, hook: request.hook, result: request.result } };
    case 'leave':
      if (outcome === 'at-min-size') {
        return { statusCode: 409, message: `${id} cannot leave: the group is at its minimum size`, fields: { ...identity, reason: 'at-min-size' } };
      }
      return {
        statusCode: 200,
        message: `${id} is terminating${decremented ? ', and the group shrinks by one' : ': the group launches a replacement'}`,
        fields: { ...identity, decremented: decremented === true },
      };
    case 'unhealthy':
      return { statusCode: 200, message: `${id} is marked unhealthy: the group replaces it`, fields: identity };
    case 'programs':
      if (programs === undefined) {
        return { statusCode: 500, message: 'the agent has no programs to serve', fields: identity };
      }
      return { statusCode: 200, message: `the programs ${programs.sha256}`, fields: { ...identity, sha256: programs.sha256, installer: programs.installer } };
  }
}
