import { MetricNames } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import { classifyLifecycleEvent } from '../core/lifecycle-event';
import type { LifecycleEventBridgeEvent } from '../core/lifecycle-event';
import {
  buildInstanceSecretPayload, CredentialAnswer, decideLaunch, decideNoActiveAction, LaunchActionState, launchActionStateOf, LaunchFacts,
  leftoversOf, planRegistration, RegistrationPlan, SecretPresence,
} from '../core/registration';
import { presenceOf } from '../core/termination';
import type { LifecycleActionRef } from '../ports';
import { GitHubError } from '../ports';
import { describeError, HandlerDeps } from './deps';

/**
 * - `registered`: this invocation completed the launch action with CONTINUE (counted as a registration)
 * - `duplicate`: the action was no longer pending, or another invocation completed it: nothing done
 * - `in-flight`: a runner of the instance's name exists but no secret yet: left to the invocation that
 *   created it (or to the hook's timeout, which abandons)
 * - `expired`: the action expired or was abandoned before this invocation could complete it; what it
 *   left is removed
 * - `abandoned`: registration failed; this invocation abandoned the action and removed what it left
 */
export interface RegistrationReport {
  readonly outcome: 'registered' | 'duplicate' | 'in-flight' | 'expired' | 'abandoned' | 'left-to-instance' | 'ignored';
  readonly instanceId?: string;
  readonly fleet?: string;
  readonly reason?: string;
}

type RegisterPlan = Extract<RegistrationPlan, { action: 'register' }>;

interface Launch {
  readonly fleet: FleetRuntimeEntry;
  readonly instanceId: string;
  readonly action: LifecycleActionRef;
  readonly plan: RegisterPlan;
  readonly context: Record<string, unknown>;
}

/**
 * Registers a runner for an instance going into service: a JIT configuration (ephemeral) or a
 * registration token (persistent) goes into the instance's own secret, then the launch action continues.
 *
 * Idempotent under duplicated, reordered and late events (see `decideLaunch`): the instance's lifecycle
 * state says whether the action is still pending; a 409 is never answered by deleting the runner.
 * A failure abandons the launch action at once, so Auto Scaling replaces the instance; what the failed
 * registration left is removed only once the ABANDON took effect (the instance is then going away).
 */
export function createRegistrationHandler(deps: HandlerDeps): (event: LifecycleEventBridgeEvent) => Promise<RegistrationReport> {
  const { metrics, logger } = deps;

  return async (event) => {
    const classified = classifyLifecycleEvent(event, deps.config);
    if (classified.kind === 'test-notification' || classified.kind === 'ignored') {
      logger.info('Lifecycle event ignored', { kind: classified.kind, reason: 'reason' in classified ? classified.reason : undefined });
      return { outcome: 'ignored', reason: 'reason' in classified ? classified.reason : classified.kind };
    }
    const { fleet, instanceId, action } = classified;
    const context = { instanceId, fleet: fleet.name, hook: action.hookName, origin: classified.origin };
    if (classified.kind !== 'launch-into-service' && classified.kind !== 'launch-into-warm-pool') {
      logger.warn('Terminate event sent to the registration function: ignored', { ...context, kind: classified.kind });
      return { outcome: 'ignored', instanceId, fleet: fleet.name, reason: classified.kind };
    }
    const plan = planRegistration(classified.kind, fleet, instanceId, deps.environment);
    if (plan.action === 'leave-to-instance') {
      logger.info('Warm-pool launch: the instance completes its own launch action once prepared', context);
      return { outcome: 'left-to-instance', instanceId, fleet: fleet.name, reason: plan.reason };
    }
    try {
      return await register(deps, { fleet, instanceId, action, plan, context });
    } finally {
      await metrics.flush();
    }
  };
}

/** Walks the decision table (`decideLaunch`) as facts come in. */
async function register(deps: HandlerDeps, launch: Launch): Promise<RegistrationReport> {
  const { fleet, instanceId, plan, context } = launch;
  const lifecycleState = await lifecycleStateOf(deps, launch);
  let facts: LaunchFacts = { state: lifecycleState.state };
  let secretValue: string | undefined;
  let failure: unknown;
  for (;;) {
    const decision = decideLaunch(facts);
    switch (decision) {
      case 'duplicate':
        deps.metrics.add(MetricNames.DUPLICATE_LAUNCH_EVENTS, fleet.name, 1);
        deps.logger.info('Launch event for an action that is no longer pending: nothing to do', { ...context, lifecycleState: lifecycleState.raw });
        return { outcome: 'duplicate', instanceId, fleet: fleet.name, reason: `the instance is ${lifecycleState.raw ?? 'gone'}` };

      case 'request-credential':
        try {
          secretValue = await credentialFor(deps, launch);
          facts = { ...facts, github: 'created' };
        } catch (error) {
          failure = error;
          facts = { ...facts, github: answerOf(error, plan.method) };
        }
        break;

      case 'check-secret':
        facts = { ...facts, secret: await secretPresence(deps, launch) };
        break;

      case 'leave-to-in-flight':
        deps.metrics.add(MetricNames.LAUNCH_CONFLICTS_LEFT_IN_FLIGHT, fleet.name, 1);
        deps.logger.warn('A runner of this name exists but the instance has no secret yet: left to the invocation that created it '
          + '(the hook\'s timeout abandons the launch if nobody completes it; the sweep then removes the runner)', { ...context, secret: facts.secret });
        return { outcome: 'in-flight', instanceId, fleet: fleet.name, reason: 'a runner of this name exists and the secret is not written yet' };

      case 'continue-existing':
        deps.logger.info('A runner of this name exists and the instance\'s secret is written: an earlier invocation registered', context);
        return continueLaunch(deps, launch, facts);

      case 'write-secret-and-continue':
        try {
          await deps.secrets.putInstanceSecret({ name: plan.secretName, instanceId, instanceArn: plan.instanceArn, value: secretValue! });
        } catch (error) {
          return fail(deps, launch, facts, error);
        }
        return continueLaunch(deps, launch, facts);

      case 'abandon':
      case 'abandon-and-remove-by-name':
        return fail(deps, launch, facts, failure);
    }
  }
}

/** The credential for the instance's secret: a JIT configuration, or a registration token with the URL. */
async function credentialFor(deps: HandlerDeps, { fleet, plan }: Launch): Promise<string> {
  if (plan.method === 'jit') {
    const request = { name: plan.runnerName, labels: fleet.labels, runnerGroupId: await runnerGroupIdOf(deps, fleet) };
    const created = await deps.github.generateJitConfig(request);
    return buildInstanceSecretPayload(fleet, plan.runnerName, { jitConfig: created.encodedJitConfig });
  }
  const token = await deps.github.createRegistrationToken();
  return buildInstanceSecretPayload(fleet, plan.runnerName, { registrationToken: token.token, registrationUrl: deps.github.registrationUrl() });
}

/**
 * A failure of the credential request, classified. Only a JIT request creates a runner, so only its
 * unanswered or 5xx failures are ambiguous.
 */
function answerOf(error: unknown, method: 'jit' | 'token'): CredentialAnswer {
  if (!(error instanceof GitHubError)) {
    return 'failure';
  }
  if (error.kind === 'conflict' && method === 'jit') {
    return 'conflict';
  }
  return method === 'jit' && (error.kind === 'network' || error.kind === 'server') ? 'ambiguous-failure' : 'failure';
}

async function continueLaunch(deps: HandlerDeps, launch: Launch, facts: LaunchFacts): Promise<RegistrationReport> {
  const { fleet, instanceId, action, plan, context } = launch;
  let completed: boolean;
  try {
    completed = await deps.autoScaling.completeLifecycleAction(action, 'CONTINUE');
  } catch (error) {
    return fail(deps, launch, facts, error);
  }
  if (!completed && action.token !== undefined && (await lifecycleStateOf(deps, launch)).state === 'pending') {
    // The event's action is over, yet the instance waits on a launch action: a later launch of the same
    // instance (back from the warm pool) whose own event found this registration in flight and left it
    // to this invocation. The secret just written is this instance's: continue the action that waits.
    deps.logger.info('The event\'s launch action is over, but the instance waits on a later one: continuing that one', context);
    try {
      completed = await deps.autoScaling.completeLifecycleAction({ ...action, token: undefined }, 'CONTINUE');
    } catch (error) {
      return fail(deps, launch, facts, error);
    }
  }
  if (!completed) {
    return noActiveAction(deps, launch, facts, 'CONTINUE');
  }
  deps.metrics.add(MetricNames.REGISTRATIONS, fleet.name, 1);
  deps.logger.info('Runner registered; launch action continued', { ...context, runnerName: plan.runnerName, method: plan.method });
  return { outcome: 'registered', instanceId, fleet: fleet.name };
}

/** ABANDON; what the launch left is removed only if the ABANDON took effect (the instance is going away). */
async function fail(deps: HandlerDeps, launch: Launch, facts: LaunchFacts, error: unknown): Promise<RegistrationReport> {
  const { fleet, instanceId, action, plan, context } = launch;
  deps.logger.error('Registration failed; abandoning the launch action', { ...context, ...describeError(error) });
  if (error instanceof GitHubError) {
    deps.metrics.add(MetricNames.GITHUB_ERRORS, fleet.name, 1);
  }
  // If even ABANDON fails, the error reaches EventBridge (retries, then the dead-letter queue).
  const abandoned = await deps.autoScaling.completeLifecycleAction(action, 'ABANDON');
  if (!abandoned) {
    return noActiveAction(deps, launch, facts, 'ABANDON');
  }
  deps.metrics.add(MetricNames.REGISTRATION_FAILURES, fleet.name, 1);
  await removeLeftovers(deps, launch, leftoversOf(plan.method, facts.github));
  return { outcome: 'abandoned', instanceId, fleet: fleet.name, reason: describeError(error).error as string };
}

/** The action was not there to complete: another invocation's doing (`duplicate`), or it expired. */
async function noActiveAction(deps: HandlerDeps, launch: Launch, facts: LaunchFacts, result: 'CONTINUE' | 'ABANDON'): Promise<RegistrationReport> {
  const { fleet, instanceId, plan, context } = launch;
  const after = await lifecycleStateOf(deps, launch);
  const decision = decideNoActiveAction(after.state);
  if (decision.outcome === 'duplicate') {
    deps.metrics.add(MetricNames.DUPLICATE_LAUNCH_EVENTS, fleet.name, 1);
    deps.logger.info(`No launch action to ${result}: another invocation completed it`, { ...context, lifecycleState: after.raw });
    return { outcome: 'duplicate', instanceId, fleet: fleet.name, reason: `no active launch action; the instance is ${after.raw}` };
  }
  deps.metrics.add(MetricNames.EXPIRED_LAUNCH_ACTIONS, fleet.name, 1);
  deps.logger.warn(`No launch action to ${result}: it expired or was abandoned${decision.remove ? '; removing what this launch left' : ''}`, {
    ...context, lifecycleState: after.raw ?? 'gone',
  });
  if (decision.remove) {
    await removeLeftovers(deps, launch, leftoversOf(plan.method, facts.github));
  }
  return { outcome: 'expired', instanceId, fleet: fleet.name, reason: `no active launch action; the instance is ${after.raw ?? 'gone'}` };
}

/** The instance's lifecycle state; `unknown` (and a warning) when AWS cannot be read. Never throws. */
async function lifecycleStateOf(deps: HandlerDeps, { instanceId, context }: Launch): Promise<{ state: LaunchActionState; raw?: string }> {
  if (!deps.autoScaling.lifecycleStateOf) {
    return { state: 'unknown', raw: 'unknown' };
  }
  try {
    const raw = await deps.autoScaling.lifecycleStateOf(instanceId);
    return { state: launchActionStateOf(raw), raw };
  } catch (error) {
    deps.logger.warn('Could not read the instance\'s lifecycle state; deciding without it', { ...context, ...describeError(error) });
    return { state: 'unknown', raw: 'unknown' };
  }
}

async function secretPresence(deps: HandlerDeps, { plan, context }: Launch): Promise<SecretPresence> {
  if (!deps.secrets.instanceSecretExists) {
    return 'unknown';
  }
  try {
    return await deps.secrets.instanceSecretExists(plan.secretName) ? 'present' : 'absent';
  } catch (error) {
    deps.logger.warn('Could not tell whether the instance\'s secret exists', { ...context, ...describeError(error) });
    return 'unknown';
  }
}

/**
 * Removes what a launch left, once its instance is known to be leaving: the runner of its name (never
 * one that is online or flagged busy) and the secret. Never throws: the sweep catches up.
 */
async function removeLeftovers(deps: HandlerDeps, { plan, context }: Launch, what: ReturnType<typeof leftoversOf>): Promise<void> {
  if (what.runner) {
    try {
      const runner = await deps.github.findRunnerByName(plan.runnerName);
      if (runner && presenceOf(runner) === 'online') {
        deps.logger.warn('The runner of an abandoned launch is online or busy: left alone', { ...context, runnerId: runner.id });
      } else if (runner) {
        const outcome = await deps.github.deleteRunner(runner.id);
        deps.logger.info('Runner of an abandoned or expired launch removed', { ...context, runnerId: runner.id, outcome });
      }
    } catch (error) {
      deps.logger.warn('Could not remove the runner of an abandoned or expired launch; the sweep will', { ...context, ...describeError(error) });
    }
  }
  try {
    await deps.secrets.deleteInstanceSecret(plan.secretName);
  } catch (error) {
    deps.logger.warn('Could not delete the secret of an abandoned or expired launch; the sweep will', { ...context, ...describeError(error) });
  }
}

/** The fleet's runner group id: configured, looked up by name, or the default group (1). */
async function runnerGroupIdOf(deps: HandlerDeps, fleet: FleetRuntimeEntry): Promise<number> {
  if (fleet.runnerGroupId !== undefined) {
    return fleet.runnerGroupId;
  }
  if (!fleet.runnerGroupName) {
    return 1;
  }
  const id = await deps.github.findRunnerGroupId(fleet.runnerGroupName);
  if (id === undefined) {
    throw new GitHubError(`runner group ${JSON.stringify(fleet.runnerGroupName)} does not exist for ${deps.config.github.owner} `
      + '(or the credentials cannot see it): create it, or fix runnerGroupName', 'validation');
  }
  return id;
}
