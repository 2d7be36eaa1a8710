import fc from 'fast-check';
import { planSweep } from '../../../lambda/core/orphans';
import { instanceIdFromRunnerName } from '../../../lambda/core/runner-names';
import type { GitHubRunner, GroupInstance, InstanceSecretInfo } from '../../../lambda/ports';
import { fleetEntry, runner } from '../fixtures';

const fleet = fleetEntry({ offlineGraceSeconds: 600 });
const now = new Date('2026-11-24T12:00:00Z');
const A = 'i-0aaaaaaaaaaaaaaaa';
const B = 'i-0bbbbbbbbbbbbbbbb';

function sweep(runners: GitHubRunner[], instances: GroupInstance[], secrets: InstanceSecretInfo[] = []) {
  return planSweep({ fleet, runners, instances, secrets, now });
}

describe('planSweep', () => {
  test('removes an idle runner whose instance is gone', () => {
    const plan = sweep([runner({ name: `linux-${A}` })], []);
    expect(plan.runnersToDelete.map((r) => r.reason)).toEqual([`instance ${A} is no longer in the group`]);
  });

  test('keeps a runner whose instance is gone but which registered within the grace period', () => {
    const secrets = [{ name: `github-runner-fleet/linux/${A}`, instanceId: A, createdAt: '2026-11-24T11:55:00Z' }];
    expect(sweep([runner({ name: `linux-${A}`, status: 'offline' })], [], secrets).runnersToDelete).toEqual([]);
  });

  test('never removes a busy runner, even offline with its instance gone', () => {
    expect(sweep([runner({ name: `linux-${A}`, busy: true, status: 'offline' })], []).runnersToDelete).toEqual([]);
  });

  test.each([
    ['InService', 'offline', false],
    ['Pending:Wait', 'offline', false],
    ['InService', 'online', false],
    ['Warmed:Stopped', 'offline', true],
    ['Terminated', 'online', true],
  ])('instance %s with a runner %s: removed %p', (state, status, removed) => {
    const plan = sweep([runner({ name: `linux-${A}`, status: status as 'online' | 'offline' })], [{ instanceId: A, lifecycleState: state }]);
    expect(plan.runnersToDelete.length > 0).toBe(removed);
  });

  test('leaves runners of other fleets alone', () => {
    expect(sweep([runner({ name: `arm-${A}`, labels: ['fleet-arm'] })], []).runnersToDelete).toEqual([]);
  });

  test('an offline runner with the fleet label and no instance id in its name is removed', () => {
    expect(sweep([runner({ name: 'hand-made', status: 'offline' })], []).runnersToDelete).toHaveLength(1);
    expect(sweep([runner({ name: 'hand-made', status: 'online' })], []).runnersToDelete).toHaveLength(0);
  });

  test('deletes old secrets of gone instances, keeps young ones and live ones', () => {
    const secrets = [
      { name: `github-runner-fleet/linux/${A}`, instanceId: A, createdAt: '2026-11-24T10:00:00Z' },
      { name: `github-runner-fleet/linux/${B}`, createdAt: '2026-11-24T11:58:00Z' },
      { name: 'github-runner-fleet/linux/i-0cccccccccccccccc', createdAt: '2026-11-24T10:00:00Z' },
      { name: 'github-runner-fleet/linux/garbage' },
    ];
    const plan = sweep([], [{ instanceId: 'i-0cccccccccccccccc', lifecycleState: 'InService' }], secrets);
    expect(plan.secretsToDelete.map((s) => s.name)).toEqual([`github-runner-fleet/linux/${A}`, 'github-runner-fleet/linux/garbage']);
  });

  test('lists instances waiting in the terminate hook', () => {
    const plan = sweep([], [{ instanceId: A, lifecycleState: 'Terminating:Wait' }, { instanceId: B, lifecycleState: 'InService' }]);
    expect(plan.draining.map((i) => i.instanceId)).toEqual([A]);
  });

  test('property: a busy runner is never deleted, and only runners with the fleet label are', () => {
    const ids = fc.constantFrom(A, B, 'i-0cccccccccccccccc');
    const arbRunner = fc.record({
      id: fc.nat(),
      name: fc.oneof(ids.map((id) => `linux-${id}`), fc.string()),
      status: fc.constantFrom('online' as const, 'offline' as const),
      busy: fc.boolean(),
      labels: fc.subarray(['fleet-linux', 'fleet-arm', 'linux']),
    });
    const arbInstance = fc.record({
      instanceId: ids,
      lifecycleState: fc.constantFrom('InService', 'Pending:Wait', 'Warmed:Stopped', 'Terminating:Wait', 'Terminated'),
    });
    const arbInstances = fc.uniqueArray(arbInstance, { maxLength: 3, selector: (i) => i.instanceId });
    fc.assert(fc.property(fc.array(arbRunner, { maxLength: 20 }), arbInstances, (runners, instances) => {
      const plan = sweep(runners, instances);
      for (const { runner: r } of plan.runnersToDelete) {
        expect(r.busy).toBe(false);
        expect(r.labels).toContain('fleet-linux');
        const id = instanceIdFromRunnerName('linux', r.name);
        const instance = instances.find((i) => i.instanceId === id);
        if (instance && ['InService', 'Pending:Wait'].includes(instance.lifecycleState)) {
          throw new Error('removed a runner of an instance in service');
        }
      }
    }));
  });
});
