import type { FleetRuntimeEntry } from '../../src/contract';
import type { DeleteRunnerOutcome } from '../ports';

/**
 * What to do with a leaving instance:
 * - `complete`: the runner is gone (deleted now, or never there): delete the secret, CONTINUE
 * - `wait-busy`: GitHub refused because the runner is running a job: heartbeat, do not complete
 * - `complete-drain-timeout`: the runner is still busy but the drain timeout has passed: let it go
 * - `complete-github-unavailable`: GitHub failed: let the instance go now; the sweep removes the runner later
 */
export type TerminationDecision = 'complete' | 'wait-busy' | 'complete-drain-timeout' | 'complete-github-unavailable';

export interface TerminationInput {
  readonly fleet: FleetRuntimeEntry;
  /** What deleting the runner came to, or 'failed' when GitHub could not be reached or answered an error. */
  readonly outcome: DeleteRunnerOutcome | 'failed';
  /** When the instance started terminating; undefined when unknown (then the drain is not limited here). */
  readonly terminatingSince?: Date;
  readonly now: Date;
}

export function decideTermination(input: TerminationInput): TerminationDecision {
  switch (input.outcome) {
    case 'deleted':
    case 'not-found':
      return 'complete';
    case 'failed':
      return 'complete-github-unavailable';
    case 'busy': {
      if (input.terminatingSince) {
        const elapsed = (input.now.getTime() - input.terminatingSince.getTime()) / 1000;
        if (elapsed >= input.fleet.drainTimeoutSeconds) {
          return 'complete-drain-timeout';
        }
      }
      return 'wait-busy';
    }
  }
}
