import { MetricNames } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import { classifyLifecycleEvent } from '../core/lifecycle-event';
import type { LifecycleEventBridgeEvent } from '../core/lifecycle-event';
import { buildInstanceSecretPayload, planRegistration } from '../core/registration';
import type { JitConfig, LifecycleActionRef } from '../ports';
import { GitHubError } from '../ports';
import { describeError, HandlerDeps } from './deps';

export interface RegistrationReport {
  readonly outcome: 'registered' | 'abandoned' | 'left-to-instance' | 'ignored';
  readonly instanceId?: string;
  readonly fleet?: string;
  readonly reason?: string;
}

/**
 * Registers a runner for an instance going into service: a JIT configuration (ephemeral) or a
 * registration token (persistent) goes into the instance's own secret, then the launch action continues.
 * Any failure abandons the launch action at once, so Auto Scaling replaces the instance.
 */
export function createRegistrationHandler(deps: HandlerDeps): (event: LifecycleEventBridgeEvent) => Promise<RegistrationReport> {
  const { github, autoScaling, secrets, metrics, logger } = deps;

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

    let created: JitConfig | undefined;
    try {
      let value: string;
      if (plan.method === 'jit') {
        created = await generateJitConfig(deps, fleet, plan.runnerName, context);
        value = buildInstanceSecretPayload(fleet, plan.runnerName, { jitConfig: created.encodedJitConfig });
      } else {
        const token = await github.createRegistrationToken();
        value = buildInstanceSecretPayload(fleet, plan.runnerName, {
          registrationToken: token.token,
          registrationUrl: github.registrationUrl(),
        });
      }
      await secrets.putInstanceSecret({ name: plan.secretName, instanceId, instanceArn: plan.instanceArn, value });
      await autoScaling.completeLifecycleAction(action, 'CONTINUE');
      metrics.add(MetricNames.REGISTRATIONS, fleet.name, 1);
      logger.info('Runner registered; launch action continued', { ...context, runnerName: plan.runnerName, method: plan.method });
      return { outcome: 'registered', instanceId, fleet: fleet.name };
    } catch (error) {
      logger.error('Registration failed; abandoning the launch action', { ...context, ...describeError(error) });
      metrics.add(MetricNames.REGISTRATION_FAILURES, fleet.name, 1);
      if (error instanceof GitHubError) {
        metrics.add(MetricNames.GITHUB_ERRORS, fleet.name, 1);
      }
      await cleanUp(deps, fleet, created, plan.secretName, context);
      await abandon(deps, action, context);
      return { outcome: 'abandoned', instanceId, fleet: fleet.name, reason: describeError(error).error as string };
    } finally {
      await metrics.flush();
    }
  };
}

/**
 * A JIT configuration for the runner name. A 409 means a runner of that name exists (a redelivered event,
 * or an instance launched again): if it is not busy it is stale, so delete it and try once more.
 */
async function generateJitConfig(
  deps: HandlerDeps,
  fleet: FleetRuntimeEntry,
  runnerName: string,
  context: Record<string, unknown>,
): Promise<JitConfig> {
  const request = { name: runnerName, labels: fleet.labels, runnerGroupId: await runnerGroupIdOf(deps, fleet) };
  try {
    return await deps.github.generateJitConfig(request);
  } catch (error) {
    if (!(error instanceof GitHubError) || error.kind !== 'conflict') {
      throw error;
    }
    const existing = await deps.github.findRunnerByName(runnerName);
    if (existing?.busy) {
      throw new Error(`a runner named ${runnerName} exists and is busy`);
    }
    if (existing) {
      deps.logger.warn('A runner with this name exists already: deleting it and registering again', { ...context, runnerId: existing.id });
      await deps.github.deleteRunner(existing.id);
    }
    return deps.github.generateJitConfig(request);
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

/** Removes what a failed registration left: the JIT runner at GitHub and the secret. Never throws. */
async function cleanUp(
  deps: HandlerDeps,
  fleet: FleetRuntimeEntry,
  created: JitConfig | undefined,
  secretName: string,
  context: Record<string, unknown>,
): Promise<void> {
  if (created) {
    try {
      await deps.github.deleteRunner(created.runnerId);
    } catch (error) {
      deps.logger.warn('Could not delete the runner of a failed registration; the sweep will', { ...context, ...describeError(error) });
    }
  }
  try {
    await deps.secrets.deleteInstanceSecret(secretName);
  } catch (error) {
    deps.logger.warn('Could not delete the secret of a failed registration; the sweep will', { ...context, fleet: fleet.name, ...describeError(error) });
  }
}

async function abandon(deps: HandlerDeps, action: LifecycleActionRef, context: Record<string, unknown>): Promise<void> {
  const completed = await deps.autoScaling.completeLifecycleAction(action, 'ABANDON');
  if (!completed) {
    deps.logger.warn('No launch action to abandon (already completed or timed out)', context);
  }
}
