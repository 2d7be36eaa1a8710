import { runnerNameFor } from '../../src/contract';
import type { FleetRuntimeEntry, InstanceSecretPayload } from '../../src/contract';
import type { RuntimeEnvironment } from '../ports';

export type RegistrationPlan =
  | {
    readonly action: 'register';
    readonly method: 'jit' | 'token';
    readonly runnerName: string;
    readonly secretName: string;
    readonly instanceArn: string;
  }
  | { readonly action: 'leave-to-instance'; readonly reason: string };

/**
 * What registering an instance means. An instance going into the warm pool is left to its own bootstrap:
 * Auto Scaling stops a warm instance as soon as its launch action completes, so completing it here
 * would stop a half-prepared instance. The instance completes the action itself once prepared.
 */
export function planRegistration(
  kind: 'launch-into-service' | 'launch-into-warm-pool',
  fleet: FleetRuntimeEntry,
  instanceId: string,
  env: RuntimeEnvironment,
): RegistrationPlan {
  if (kind === 'launch-into-warm-pool') {
    return { action: 'leave-to-instance', reason: 'warm-pool preparation is completed by the instance itself' };
  }
  return {
    action: 'register',
    method: fleet.mode === 'ephemeral' ? 'jit' : 'token',
    runnerName: runnerNameFor(fleet.name, instanceId),
    secretName: `${fleet.secretPrefix}${instanceId}`,
    instanceArn: `arn:${env.partition}:ec2:${env.region}:${env.accountId}:instance/${instanceId}`,
  };
}

/** The JSON stored in the instance's secret. */
export function buildInstanceSecretPayload(
  fleet: FleetRuntimeEntry,
  runnerName: string,
  credential: { readonly jitConfig: string } | { readonly registrationToken: string; readonly registrationUrl: string },
): string {
  const payload: InstanceSecretPayload = 'jitConfig' in credential
    ? { mode: 'ephemeral', runnerName, jitConfig: credential.jitConfig }
    : {
      mode: 'persistent',
      runnerName,
      registrationToken: credential.registrationToken,
      registrationUrl: credential.registrationUrl,
      labels: fleet.labels.join(','),
      runnerGroupName: fleet.runnerGroupName,
    };
  return JSON.stringify(payload);
}


/**
 * Where a launch action stands, read from the instance's lifecycle state:
 * - `pending`: `Pending`, `Pending:Wait`: the action waits for a result
 * - `continued`: `Pending:Proceed`, `InService`, standby or detaching: someone completed it with CONTINUE
 *   (or the hook timed out with CONTINUE); the instance may be reading, or have read, its secret
 * - `leaving`: `Terminating*`, `Terminated`, `Warmed:*`: the action was abandoned or expired; the instance
 *   will not serve from it (and never read its secret: it waits for InService first)
 * - `gone`: no group knows the instance
 * - `unknown`: the state could not be read, or is one we do not know
 */
export type LaunchActionState = 'pending' | 'continued' | 'leaving' | 'gone' | 'unknown';

const CONTINUED_STATES = new Set(['Pending:Proceed', 'InService', 'EnteringStandby', 'Standby', 'Detaching', 'Detached']);

/** The {@link LaunchActionState} of a lifecycle state (`undefined`: no group knows the instance). */
export function launchActionStateOf(lifecycleState: string | undefined): LaunchActionState {
  if (lifecycleState === undefined) {
    return 'gone';
  }
  if (lifecycleState === 'Pending' || lifecycleState === 'Pending:Wait') {
    return 'pending';
  }
  if (CONTINUED_STATES.has(lifecycleState)) {
    return 'continued';
  }
  if (lifecycleState.startsWith('Terminat') || lifecycleState.startsWith('Warmed:')) {
    return 'leaving';
  }
  return 'unknown';
}

/**
 * What GitHub answered to the credential request (JIT configuration, or registration token):
 * - `created`: 201
 * - `conflict`: 409, a runner of that name exists
 * - `ambiguous-failure`: no answer, a timeout or a 5xx: GitHub may have created the runner all the same
 * - `failure`: a definite refusal (4xx other than 409, rate limit, credentials): nothing was created
 */
export type CredentialAnswer = 'created' | 'conflict' | 'ambiguous-failure' | 'failure';

/** Whether the instance's secret exists (asked only after a 409); `unknown` when it could not be read. */
export type SecretPresence = 'present' | 'absent' | 'unknown';

/** What the registration function knows so far about one launch event. */
export interface LaunchFacts {
  /** From DescribeAutoScalingInstances, before anything else. */
  readonly state: LaunchActionState;
  readonly github?: CredentialAnswer;
  readonly secret?: SecretPresence;
}

/**
 * The next step for a launch event (see {@link decideLaunch}):
 * - `duplicate`: the action is no longer pending: do nothing (counted, not a registration)
 * - `request-credential`: ask GitHub for a JIT configuration (ephemeral) or a registration token
 * - `write-secret-and-continue`: write the instance's secret, then CONTINUE
 * - `check-secret`: a 409: does the instance's secret exist?
 * - `continue-existing`: a 409 and the secret exists: an earlier or concurrent invocation registered;
 *   CONTINUE (idempotent)
 * - `leave-to-in-flight`: a 409 and no secret: the invocation that created the runner has not written
 *   the secret yet (or died): do nothing; the hook's timeout abandons if nobody finishes
 * - `abandon-and-remove-by-name`: GitHub may have created the runner without us seeing it: ABANDON, then
 *   (only if the ABANDON took effect) remove the runner found by name and the secret
 * - `abandon`: ABANDON, then (only if it took effect) remove the secret
 */
export type LaunchDecision =
  | 'duplicate'
  | 'request-credential'
  | 'write-secret-and-continue'
  | 'check-secret'
  | 'continue-existing'
  | 'leave-to-in-flight'
  | 'abandon-and-remove-by-name'
  | 'abandon';

/**
 * The registration path's decision table for a launch into service. It never deletes a runner before
 * the instance is known to be leaving: a runner of the instance's name may be the fresh registration of
 * a concurrent duplicate, and an instance in service may be running a job on it.
 *
 * | instance (AWS) | GitHub | secret | decision |
 * |---|---|---|---|
 * | continued, leaving, gone | – | – | `duplicate` |
 * | pending, unknown | not asked | – | `request-credential` |
 * | pending, unknown | 201 | – | `write-secret-and-continue` |
 * | pending, unknown | 409 | not asked | `check-secret` |
 * | pending, unknown | 409 | present | `continue-existing` |
 * | pending, unknown | 409 | absent, unknown | `leave-to-in-flight` |
 * | pending, unknown | timeout, no answer, 5xx | – | `abandon-and-remove-by-name` |
 * | pending, unknown | other failure | – | `abandon` |
 */
export function decideLaunch(facts: LaunchFacts): LaunchDecision {
  if (facts.state === 'continued' || facts.state === 'leaving' || facts.state === 'gone') {
    return 'duplicate';
  }
  switch (facts.github) {
    case undefined:
      return 'request-credential';
    case 'created':
      return 'write-secret-and-continue';
    case 'ambiguous-failure':
      return 'abandon-and-remove-by-name';
    case 'failure':
      return 'abandon';
    case 'conflict':
      if (facts.secret === undefined) {
        return 'check-secret';
      }
      return facts.secret === 'present' ? 'continue-existing' : 'leave-to-in-flight';
  }
}

/**
 * CompleteLifecycleAction (CONTINUE or ABANDON) answered that there is no such action: whose was it?
 * Read from the instance's state afterwards:
 * - `pending`, `continued`: another invocation completed it (or the event carried an older action's
 *   token): `duplicate`, nothing removed: the instance may be using the runner and secret
 * - `leaving`, `gone`: the action expired or was abandoned: `expired`, and what this launch left (the
 *   runner, the secret) is removed, since the instance will never use it
 * - `unknown`: `expired`, but nothing removed without evidence that the instance is leaving (the sweep
 *   removes leftovers once it is gone)
 */
export function decideNoActiveAction(stateAfter: LaunchActionState): { readonly outcome: 'duplicate' | 'expired'; readonly remove: boolean } {
  switch (stateAfter) {
    case 'pending':
    case 'continued':
      return { outcome: 'duplicate', remove: false };
    case 'leaving':
    case 'gone':
      return { outcome: 'expired', remove: true };
    case 'unknown':
      return { outcome: 'expired', remove: false };
  }
}

/**
 * What to remove once the instance is known to be leaving (an ABANDON that took effect, or an expired
 * action): always the secret; the runner found by name (and only if it is offline and idle) when one may
 * exist: GitHub created it (201), may have created it (no answer), or answered 409. Persistent fleets
 * create no runner from here.
 */
export function leftoversOf(method: 'jit' | 'token', github: CredentialAnswer | undefined): { readonly runner: boolean; readonly secret: true } {
  const runnerMayExist = github === 'created' || github === 'ambiguous-failure' || github === 'conflict';
  return { runner: method === 'jit' && runnerMayExist, secret: true };
}
