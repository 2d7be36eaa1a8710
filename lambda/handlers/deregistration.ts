import { MetricNames, runnerNameFor, TERMINATE_HOOK_NAME } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import { classifyLifecycleEvent } from '../core/lifecycle-event';
import type { LifecycleEventBridgeEvent } from '../core/lifecycle-event';
import { planSweep } from '../core/orphans';
import { decideTermination, presenceOf, RunnerPresence, TerminationDecision } from '../core/termination';
import type { GitHubRunner, LifecycleActionRef } from '../ports';
import { GitHubError } from '../ports';
import { describeError, HandlerDeps } from './deps';

/** An EventBridge scheduled event (the sweep). */
export interface ScheduledEvent {
  readonly 'detail-type': 'Scheduled Event';
  readonly 'source'?: string;
  readonly 'time'?: string;
}

export interface TerminationReport {
  readonly type: 'termination';
  readonly instanceId?: string;
  readonly fleet?: string;
  readonly decision: TerminationDecision | 'released-warm' | 'ignored';
  /**
   * Whether this invocation completed the terminate action. `false` when AWS had no such action any more
   * (a duplicated or late event, or another invocation or the instance completed it): nothing was
   * deleted and nothing counted. Absent when the decision completes nothing.
   */
  readonly completed?: boolean;
}

export interface SweepReport {
  readonly type: 'sweep';
  readonly fleets: Array<{
    readonly fleet: string;
    readonly ok: boolean;
    readonly runnersDeleted: number;
    readonly secretsDeleted: number;
    readonly drained: number;
    readonly error?: string;
  }>;
}

export interface SpotInterruptionReport {
  readonly type: 'spot-interruption';
  readonly instanceId?: string;
  /** The fleet of the instance; absent when the instance is not one of this control plane's. */
  readonly fleet?: string;
}

/** EventBridge's `EC2 Spot Instance Interruption Warning` (fields we use). */
export interface SpotInterruptionEvent {
  readonly 'detail-type': typeof SPOT_INTERRUPTION_DETAIL_TYPE;
  readonly 'detail': { readonly 'instance-id'?: string; readonly 'instance-action'?: string };
}

export const SPOT_INTERRUPTION_DETAIL_TYPE = 'EC2 Spot Instance Interruption Warning';

export type DeregistrationReport = TerminationReport | SweepReport | SpotInterruptionReport;

/**
 * Terminate lifecycle events: remove the runner from GitHub, delete the instance's secret, let the
 * instance go. A runner still running a job holds its instance (heartbeats) until the job ends or the
 * drain timeout passes. GitHub being down never holds an instance: the sweep catches up later.
 *
 * Scheduled events: the sweep of orphaned runners and secrets, and of instances still draining.
 */
export function createDeregistrationHandler(
  deps: HandlerDeps,
): (event: LifecycleEventBridgeEvent | ScheduledEvent | SpotInterruptionEvent) => Promise<DeregistrationReport> {
  const now = deps.now ?? (() => new Date());

  const terminate = async (event: LifecycleEventBridgeEvent): Promise<TerminationReport> => {
    const classified = classifyLifecycleEvent(event, deps.config);
    if (classified.kind === 'test-notification' || classified.kind === 'ignored'
      || classified.kind === 'launch-into-service' || classified.kind === 'launch-into-warm-pool') {
      deps.logger.info('Event ignored by the deregistration function', { kind: classified.kind });
      return { type: 'termination', decision: 'ignored' };
    }
    const { fleet, instanceId, action } = classified;
    const context = { instanceId, fleet: fleet.name, hook: action.hookName, kind: classified.kind };
    if (classified.kind === 'terminate-from-warm-pool') {
      // Never registered: nothing at GitHub. A secret exists only if something went wrong earlier.
      const completed = await completeThenDeleteSecret(deps, fleet, action, context);
      deps.logger.info(completed ? 'Warm instance released' : 'No terminate action to complete (a duplicated or late event): nothing done', context);
      return { type: 'termination', instanceId, fleet: fleet.name, decision: 'released-warm', completed };
    }
    const eventTime = event.time ? new Date(event.time) : undefined;
    const { decision, completed } = await settle(deps, fleet, action, eventTime, now(), context);
    return { type: 'termination', instanceId, fleet: fleet.name, decision, ...(completed === undefined ? {} : { completed }) };
  };

  const sweep = async (): Promise<SweepReport> => {
    const report: SweepReport['fleets'] = [];
    let runners: GitHubRunner[] | undefined;
    let listingError: unknown;
    try {
      runners = await deps.github.listRunners(); // once for every fleet of the connection
    } catch (error) {
      listingError = error;
      deps.logger.error('Sweep: could not list runners', describeError(error));
    }
    for (const fleet of deps.config.fleets) {
      try {
        if (!runners) {
          deps.metrics.add(MetricNames.GITHUB_ERRORS, fleet.name, 1);
          throw listingError;
        }
        report.push(await sweepFleet(deps, fleet, runners, now()));
      } catch (error) {
        deps.logger.error('Sweep failed for a fleet', { fleet: fleet.name, ...describeError(error) });
        report.push({ fleet: fleet.name, ok: false, runnersDeleted: 0, secretsDeleted: 0, drained: 0, error: describeError(error).error as string });
      }
    }
    await deps.metrics.flush();
    return { type: 'sweep', fleets: report };
  };

  /**
   * A spot interruption warning (for any instance of the account and region): counted and logged for the
   * fleet it concerns. The instance itself stops taking jobs; its terminate hook follows.
   */
  const spotInterruption = async (event: SpotInterruptionEvent): Promise<SpotInterruptionReport> => {
    const instanceId = event.detail?.['instance-id'];
    if (!instanceId) {
      return { type: 'spot-interruption' };
    }
    const group = await deps.autoScaling.groupOfInstance(instanceId);
    const fleet = deps.config.fleets.find((f) => f.autoScalingGroupName === group);
    if (!fleet) {
      return { type: 'spot-interruption', instanceId };
    }
    deps.metrics.add(MetricNames.SPOT_INTERRUPTIONS, fleet.name, 1);
    deps.logger.warn('Spot interruption warning: the instance takes no new job and leaves within two minutes', {
      instanceId, fleet: fleet.name, action: event.detail['instance-action'],
    });
    return { type: 'spot-interruption', instanceId, fleet: fleet.name };
  };

  return async (event) => {
    if (event['detail-type'] === 'Scheduled Event') {
      return sweep();
    }
    if (event['detail-type'] === SPOT_INTERRUPTION_DETAIL_TYPE) {
      try {
        return await spotInterruption(event as SpotInterruptionEvent);
      } finally {
        await deps.metrics.flush();
      }
    }
    try {
      return await terminate(event as LifecycleEventBridgeEvent);
    } finally {
      await deps.metrics.flush();
    }
  };
}

/**
 * Decides whether a leaving instance may go now, and lets it go when it may. The runner of an instance
 * that is still there is never deleted from here: GitHub may have handed it a job a moment ago (the REST
 * view lags). The instance stops its own runner when no job runs and completes the action itself; here,
 * an instance without a runner is released at once and one with an online runner kept open.
 */
async function settle(
  deps: HandlerDeps,
  fleet: FleetRuntimeEntry,
  action: LifecycleActionRef,
  terminatingSince: Date | undefined,
  now: Date,
  context: Record<string, unknown>,
): Promise<{ decision: TerminationDecision; completed?: boolean }> {
  let presence: RunnerPresence;
  try {
    presence = presenceOf(await deps.github.findRunnerByName(runnerNameFor(fleet.name, action.instanceId)));
  } catch (error) {
    presence = 'unknown';
    deps.logger.error('GitHub failed while looking up the runner; the instance retires its runner itself', { ...context, ...describeError(error) });
    deps.metrics.add(MetricNames.DEREGISTRATION_FAILURES, fleet.name, 1);
    if (error instanceof GitHubError) {
      deps.metrics.add(MetricNames.GITHUB_ERRORS, fleet.name, 1);
    }
  }
  const decision = decideTermination({ fleet, runner: presence, terminatingSince, now });
  switch (decision) {
    case 'wait-for-instance': {
      const extended = await deps.autoScaling.recordHeartbeat(action);
      deps.logger.info('The runner is online: holding the instance until it retires its runner', { ...context, heartbeat: extended });
      return { decision };
    }
    case 'leave-to-instance':
      deps.logger.info('The runner is offline or unknown: the instance completes its own action (or the hook times out)', {
        ...context, runner: presence,
      });
      return { decision };
    case 'complete-drain-timeout':
      deps.logger.warn('The instance has not retired its runner within the drain timeout: letting it go', {
        ...context, drainTimeoutSeconds: fleet.drainTimeoutSeconds,
      });
      break;
    case 'complete':
      break;
  }
  const completed = await completeThenDeleteSecret(deps, fleet, action, context);
  if (decision === 'complete' && completed) {
    deps.metrics.add(MetricNames.DEREGISTRATIONS, fleet.name, 1);
  }
  deps.logger.info(completed ? 'Terminate action continued' : 'No terminate action to complete (a duplicated or late event): nothing done',
    { ...context, decision, completed });
  return { decision, completed };
}

/**
 * CONTINUE, then, only if that completed the action, the instance's secret is deleted. A duplicated or
 * late event (the action completed already, or a reused warm instance back in service with a fresh
 * secret for its new launch) finds no action and deletes nothing; the sweep removes what a gone
 * instance left.
 */
async function completeThenDeleteSecret(
  deps: HandlerDeps, fleet: FleetRuntimeEntry, action: LifecycleActionRef, context: Record<string, unknown>,
): Promise<boolean> {
  const completed = await deps.autoScaling.completeLifecycleAction(action, 'CONTINUE');
  if (completed) {
    await deleteSecretQuietly(deps, fleet, action.instanceId, context);
  }
  return completed;
}

async function sweepFleet(deps: HandlerDeps, fleet: FleetRuntimeEntry, runners: GitHubRunner[], now: Date): Promise<SweepReport['fleets'][number]> {
  const [instances, secrets] = await Promise.all([
    deps.autoScaling.listGroupInstances(fleet.autoScalingGroupName),
    deps.secrets.listInstanceSecrets(fleet.secretPrefix),
  ]);
  const plan = planSweep({ fleet, runners, instances, secrets, now });
  let runnersDeleted = 0;
  for (const { runner, reason } of plan.runnersToDelete) {
    try {
      const outcome = await deps.github.deleteRunner(runner.id);
      if (outcome === 'deleted') {
        runnersDeleted++;
        deps.logger.info('Sweep: orphaned runner removed', { fleet: fleet.name, runnerId: runner.id, runnerName: runner.name, reason });
      }
    } catch (error) {
      deps.logger.warn('Sweep: could not remove a runner', { fleet: fleet.name, runnerId: runner.id, ...describeError(error) });
    }
  }
  let secretsDeleted = 0;
  for (const { name, reason } of plan.secretsToDelete) {
    try {
      if (await deps.secrets.deleteInstanceSecret(name)) {
        secretsDeleted++;
        deps.logger.info('Sweep: orphaned secret deleted', { fleet: fleet.name, secretName: name, reason });
      }
    } catch (error) {
      deps.logger.warn('Sweep: could not delete a secret', { fleet: fleet.name, secretName: name, ...describeError(error) });
    }
  }
  let drained = 0;
  for (const instance of plan.draining) {
    const hookName = fleet.terminateHookName ?? TERMINATE_HOOK_NAME;
    const action = { autoScalingGroupName: fleet.autoScalingGroupName, hookName, instanceId: instance.instanceId };
    const since = instance.terminatingSince ? new Date(instance.terminatingSince) : undefined;
    const { decision, completed } = await settle(deps, fleet, action, since, now, { instanceId: instance.instanceId, fleet: fleet.name, via: 'sweep' });
    if (completed && (decision === 'complete' || decision === 'complete-drain-timeout')) {
      drained++;
    }
  }
  deps.metrics.add(MetricNames.ORPHANS_REMOVED, fleet.name, runnersDeleted + secretsDeleted);
  return { fleet: fleet.name, ok: true, runnersDeleted, secretsDeleted, drained };
}

async function deleteSecretQuietly(deps: HandlerDeps, fleet: FleetRuntimeEntry, instanceId: string, context: Record<string, unknown>): Promise<void> {
  try {
    await deps.secrets.deleteInstanceSecret(`${fleet.secretPrefix}${instanceId}`);
  } catch (error) {
    deps.logger.warn('Could not delete the instance secret; the sweep will', { ...context, ...describeError(error) });
  }
}
