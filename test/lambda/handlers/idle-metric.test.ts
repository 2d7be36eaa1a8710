import { createIdleMetricHandler } from '../../../lambda/handlers/idle-metric';
import { GitHubError } from '../../../lambda/ports';
import { fleetEntry, runner, runtimeConfig } from '../fixtures';
import { World } from './fakes';

const config = runtimeConfig([fleetEntry(), fleetEntry({ name: 'arm' })]);

describe('idle-metric handler', () => {
  test('one listing, three counts per fleet', async () => {
    const world = new World();
    world.runners = [
      runner({ status: 'online', busy: false }),
      runner({ status: 'online', busy: false }),
      runner({ status: 'online', busy: true }),
      runner({ status: 'offline' }),
      runner({ labels: ['fleet-arm'], busy: true }),
    ];
    const report = await createIdleMetricHandler(world.deps(config))();
    expect(world.callsOf('listRunners')).toHaveLength(1);
    expect(report.counts).toEqual({
      linux: { idle: 2, busy: 1, offline: 1, total: 4 },
      arm: { idle: 0, busy: 1, offline: 0, total: 1 },
    });
    expect(world.metrics).toEqual(expect.arrayContaining([
      { name: 'IdleRunners', fleet: 'linux', value: 2 },
      { name: 'BusyRunners', fleet: 'linux', value: 1 },
      { name: 'OfflineRunners', fleet: 'linux', value: 1 },
      { name: 'IdleRunners', fleet: 'arm', value: 0 },
      { name: 'BusyRunners', fleet: 'arm', value: 1 },
    ]));
  });

  test('GitHub failing: no counts at all (a zero would scale out), the error counted', async () => {
    const world = new World();
    world.faults.add('listRunners', () => new GitHubError('rate limited', 'rate-limited', 403));
    const report = await createIdleMetricHandler(world.deps(config))();
    expect(report.ok).toBe(false);
    expect(world.metrics.filter((m) => m.name === 'IdleRunners')).toEqual([]);
    expect(world.metricTotal('GitHubErrors', 'linux')).toBe(1);
    expect(world.metricTotal('GitHubErrors', 'arm')).toBe(1);
  });
});
