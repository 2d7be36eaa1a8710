import type { FleetRuntimeEntry } from '../../src/contract';
import type { GitHubRunner, GroupInstance, InstanceSecretInfo } from '../ports';
import { belongsToFleet } from './runner-counts';
import { instanceIdFromRunnerName, instanceIdFromSecretName, isInstanceId } from './runner-names';

export interface SweepInput {
  readonly fleet: FleetRuntimeEntry;
  readonly runners: GitHubRunner[];
  readonly instances: GroupInstance[];
  readonly secrets: InstanceSecretInfo[];
  readonly now: Date;
}

export interface SweepPlan {
  readonly runnersToDelete: Array<{ readonly runner: GitHubRunner; readonly reason: string }>;
  readonly secretsToDelete: Array<{ readonly name: string; readonly reason: string }>;
  /** Instances of the group held in `Terminating:Wait`: their termination is decided again. */
  readonly draining: GroupInstance[];
}

const GONE_STATES = new Set(['Terminated', 'Terminating:Proceed', 'Warmed:Terminated', 'Warmed:Terminating:Proceed']);

/**
 * What the scheduled sweep removes for one fleet. Never a busy runner, whatever else is true of it: the
 * busy flag can be stale, but deleting a runner that is running a job cancels the job.
 */
export function planSweep(input: SweepInput): SweepPlan {
  const { fleet, now } = input;
  const graceMs = fleet.offlineGraceSeconds * 1000;
  const instances = new Map(input.instances.map((i) => [i.instanceId, i]));
  const secrets = new Map<string, InstanceSecretInfo>();
  for (const secret of input.secrets) {
    const id = secret.instanceId ?? instanceIdFromSecretName(fleet.secretPrefix, secret.name);
    if (id) {
      secrets.set(id, secret);
    }
  }
  const young = (secret: InstanceSecretInfo | undefined): boolean => {
    if (!secret?.createdAt) {
      return false;
    }
    const created = Date.parse(secret.createdAt);
    return Number.isFinite(created) && now.getTime() - created < graceMs;
  };

  const runnersToDelete: SweepPlan['runnersToDelete'] = [];
  for (const runner of input.runners) {
    if (!belongsToFleet(runner, fleet) || runner.busy) {
      continue;
    }
    const instanceId = instanceIdFromRunnerName(fleet.name, runner.name);
    if (!instanceId) {
      if (runner.status === 'offline') {
        runnersToDelete.push({ runner, reason: 'offline runner with the fleet label but no instance id in its name' });
      }
      continue;
    }
    const instance = instances.get(instanceId);
    if (!instance || GONE_STATES.has(instance.lifecycleState)) {
      if (!young(secrets.get(instanceId))) {
        runnersToDelete.push({ runner, reason: `instance ${instanceId} is no longer in the group` });
      }
      continue;
    }
    if (runner.status === 'offline' && instance.lifecycleState.startsWith('Warmed:')) {
      runnersToDelete.push({ runner, reason: `instance ${instanceId} is back in the warm pool` });
    }
  }

  const secretsToDelete: SweepPlan['secretsToDelete'] = [];
  for (const secret of input.secrets) {
    if (!secret.name.startsWith(fleet.secretPrefix)) {
      continue;
    }
    const id = secret.instanceId ?? instanceIdFromSecretName(fleet.secretPrefix, secret.name);
    const instance = id ? instances.get(id) : undefined;
    const live = instance !== undefined && !GONE_STATES.has(instance.lifecycleState);
    if (!live && !young(secret)) {
      secretsToDelete.push({
        name: secret.name,
        reason: isInstanceId(id) ? `instance ${id} is no longer in the group` : 'no instance id in the secret name or tags',
      });
    }
  }

  const draining = input.instances.filter((i) => i.lifecycleState === 'Terminating:Wait');
  return { runnersToDelete, secretsToDelete, draining };
}
