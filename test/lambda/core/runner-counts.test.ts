import fc from 'fast-check';
import { countRunnersByFleet } from '../../../lambda/core/runner-counts';
import type { GitHubRunner } from '../../../lambda/ports';
import { fleetEntry, runner } from '../fixtures';

const fleets = [fleetEntry(), fleetEntry({ name: 'arm' })];

describe('countRunnersByFleet', () => {
  test('idle, busy and offline by the fleet label; other runners ignored', () => {
    const runners = [
      runner({ status: 'online', busy: false }),
      runner({ status: 'online', busy: true }),
      runner({ status: 'offline', busy: true }), // offline wins over a stale busy flag
      runner({ status: 'offline', busy: false }),
      runner({ labels: ['FLEET-ARM'] }), // labels are case-insensitive
      runner({ labels: ['linux'] }), // no fleet label: not ours
    ];
    const counts = countRunnersByFleet(runners, fleets);
    expect(counts.get('linux')).toEqual({ idle: 1, busy: 1, offline: 2, total: 4 });
    expect(counts.get('arm')).toEqual({ idle: 1, busy: 0, offline: 0, total: 1 });
  });

  test('every fleet appears, with zeros', () => {
    expect(countRunnersByFleet([], fleets).get('arm')).toEqual({ idle: 0, busy: 0, offline: 0, total: 0 });
  });

  test('property: counts add up to the runners carrying each label', () => {
    const arbRunner: fc.Arbitrary<GitHubRunner> = fc.record({
      id: fc.nat(),
      name: fc.string(),
      status: fc.constantFrom('online' as const, 'offline' as const),
      busy: fc.boolean(),
      labels: fc.subarray(['fleet-linux', 'FLEET-ARM', 'linux', 'x64']),
    });
    fc.assert(fc.property(fc.array(arbRunner, { maxLength: 60 }), (runners) => {
      const counts = countRunnersByFleet(runners, fleets);
      for (const fleet of fleets) {
        const c = counts.get(fleet.name)!;
        const mine = runners.filter((r) => r.labels.some((l) => l.toLowerCase() === fleet.fleetLabel));
        expect(c.idle + c.busy + c.offline).toBe(c.total);
        expect(c.total).toBe(mine.length);
        expect(c.busy).toBe(mine.filter((r) => r.status === 'online' && r.busy).length);
      }
    }));
  });
});
