import type { FleetRuntimeEntry } from '../../src/contract';
import type { GitHubRunner } from '../ports';

export interface RunnerCounts {
  readonly idle: number;
  readonly busy: number;
  readonly offline: number;
  readonly total: number;
}

/** Whether a runner carries a fleet's label (GitHub labels are case-insensitive). */
export function belongsToFleet(runner: GitHubRunner, fleet: Pick<FleetRuntimeEntry, 'fleetLabel'>): boolean {
  const label = fleet.fleetLabel.toLowerCase();
  return runner.labels.some((l) => l.toLowerCase() === label);
}

/**
 * Idle, busy and offline runners per fleet. Idle = online and not busy; busy = online and busy; an
 * offline runner counts as offline whatever its busy flag says. Every fleet appears, with zeros when it
 * has no runner; runners of no fleet are ignored.
 */
export function countRunnersByFleet(runners: GitHubRunner[], fleets: FleetRuntimeEntry[]): Map<string, RunnerCounts> {
  const counts = new Map<string, RunnerCounts>();
  for (const fleet of fleets) {
    let idle = 0;
    let busy = 0;
    let offline = 0;
    for (const runner of runners) {
      if (!belongsToFleet(runner, fleet)) {
        continue;
      }
      if (runner.status !== 'online') {
        offline++;
      } else if (runner.busy) {
        busy++;
      } else {
        idle++;
      }
    }
    counts.set(fleet.name, { idle, busy, offline, total: idle + busy + offline });
  }
  return counts;
}
