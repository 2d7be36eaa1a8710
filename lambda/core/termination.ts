import type { FleetRuntimeEntry } from '../../src/contract';
import type { GitHubRunner } from '../ports';

/**
 * What GitHub says of a leaving instance's runner:
 * - `none`: no runner by that name (an ephemeral runner after its job, or never registered)
 * - `offline`: registered, offline and not busy: its listener is stopped, it cannot be running a job
 * - `online`: online, or flagged busy: it may be running a job, or be given one at any moment
 * - `unknown`: GitHub could not be read
 */
export type RunnerPresence = 'none' | 'offline' | 'online' | 'unknown';

/**
 * What the control plane does with a leaving instance (its terminate action). The instance itself is
 * the authority on whether a job runs: it stops its runner when none does and completes the action, and
 * records heartbeats while one does. So the control plane never deletes the runner of an instance that
 * is still there, and completes only what nobody else will:
 * - `complete`: GitHub has no runner of that name (an ephemeral runner after its job, or never
 *   registered): delete the secret, CONTINUE at once
 * - `wait-for-instance`: the runner is online (or flagged busy): a job may be running or about to; a
 *   heartbeat keeps the action open until the instance retires its runner
 * - `leave-to-instance`: the runner is offline, or GitHub could not be read: nothing to do here. A live
 *   instance completes the action itself within seconds (or heartbeats through a job); a dead one is let
 *   go by the hook's own timeout (CONTINUE)
 * - `complete-drain-timeout`: held for longer than the fleet's drain timeout: let it go (the safety valve)
 */
export type TerminationDecision = 'complete' | 'wait-for-instance' | 'leave-to-instance' | 'complete-drain-timeout';

export interface TerminationInput {
  readonly fleet: FleetRuntimeEntry;
  readonly runner: RunnerPresence;
  /** When the instance started terminating; undefined when unknown (then the drain is not limited here). */
  readonly terminatingSince?: Date;
  readonly now: Date;
}

/** How GitHub's view of a runner translates; the busy flag lags, so busy counts as online whatever the status. */
export function presenceOf(runner: Pick<GitHubRunner, 'status' | 'busy'> | undefined): RunnerPresence {
  if (!runner) {
    return 'none';
  }
  return runner.status === 'online' || runner.busy ? 'online' : 'offline';
}

export function decideTermination(input: TerminationInput): TerminationDecision {
  if (input.runner === 'none') {
    return 'complete';
  }
  if (input.terminatingSince) {
    const elapsed = (input.now.getTime() - input.terminatingSince.getTime()) / 1000;
    if (elapsed >= input.fleet.drainTimeoutSeconds) {
      return 'complete-drain-timeout';
    }
  }
  return input.runner === 'online' ? 'wait-for-instance' : 'leave-to-instance';
}
