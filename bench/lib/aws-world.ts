/**
 * In-memory stand-ins for everything the handlers need besides GitHub: Auto Scaling groups and their
 * instances, the per-instance secrets, metrics and the logger. They make no network call, so every
 * request the fake GitHub server records comes from the real GitHub adapter.
 */
import type {
  AutoScalingPort, GroupCapacity, GroupInstance, InstanceActionOutcome, InstanceSecretInfo, LifecycleActionRef, LifecycleResult, LoggerPort,
  MetricsPort, SecretsPort,
} from '../../lambda/ports';
import type { FleetRuntimeEntry } from '../../src/contract';

/** The benchmark's groups never reach their maximum: the controller's decisions are not what is measured. */
const MAX_GROUP_SIZE = 10_000;

export class AwsWorld {
  /** Auto Scaling group name → instance id → lifecycle state. */
  private readonly groups = new Map<string, Map<string, string>>();
  /** Desired capacity a group was set to; until then, its instances on their way in or in service. */
  private readonly desired = new Map<string, number>();
  private readonly secrets = new Map<string, InstanceSecretInfo>();
  private nextInstance = 1;

  readonly autoScaling: AutoScalingPort = {
    completeLifecycleAction: async (action: LifecycleActionRef, result: LifecycleResult) => {
      const group = this.groups.get(action.autoScalingGroupName);
      const state = group?.get(action.instanceId);
      if (!group || (state !== 'Pending:Wait' && state !== 'Terminating:Wait')) {
        return false;
      }
      if (state === 'Pending:Wait' && result === 'CONTINUE') {
        group.set(action.instanceId, 'InService');
      } else {
        group.delete(action.instanceId); // terminated, or a launch abandoned
      }
      return true;
    },
    recordHeartbeat: async (action: LifecycleActionRef) => this.groups.get(action.autoScalingGroupName)?.has(action.instanceId) ?? false,
    groupOfInstance: async (instanceId: string) => [...this.groups].find(([, instances]) => instances.has(instanceId))?.[0],
    listGroupInstances: async (groupName: string): Promise<GroupInstance[]> =>
      [...(this.groups.get(groupName) ?? new Map<string, string>())].map(([instanceId, lifecycleState]) => ({ instanceId, lifecycleState })),
    describeCapacity: async (groupName: string): Promise<GroupCapacity> => {
      const instances = [...(this.groups.get(groupName) ?? new Map<string, string>())]
        .filter(([, state]) => state !== 'Terminated')
        .map(([instanceId, lifecycleState]) => ({ instanceId, lifecycleState, protectedFromScaleIn: false }));
      const counted = instances.filter((i) => i.lifecycleState === 'InService' || i.lifecycleState.startsWith('Pending')).length;
      return { desired: this.desired.get(groupName) ?? counted, min: 0, max: MAX_GROUP_SIZE, instances };
    },
    setDesiredCapacity: async (groupName: string, desired: number) => {
      this.desired.set(groupName, desired);
    },
    // The instance agent's calls (the benchmark does not make them; kept consistent with the states above).
    listWarmPoolInstances: async (groupName: string) =>
      [...(this.groups.get(groupName) ?? new Map<string, string>())].filter(([, state]) => state.startsWith('Warmed')).map(([id]) => id),
    setInstanceProtection: async (groupName: string, instanceId: string) => {
      const state = this.groups.get(groupName)?.get(instanceId);
      return state === undefined ? 'not-found' : state === 'InService' ? 'done' : 'not-in-service';
    },
    terminateInstance: async (instanceId: string) => this.beginTermination(instanceId),
    setUnhealthy: async (instanceId: string) => this.beginTermination(instanceId),
  };

  readonly secretsPort: SecretsPort = {
    putInstanceSecret: async (secret) => {
      this.secrets.set(secret.name, { name: secret.name, instanceId: secret.instanceId, createdAt: this.now().toISOString() });
    },
    deleteInstanceSecret: async (name) => this.secrets.delete(name),
    listInstanceSecrets: async (prefix) => [...this.secrets.values()].filter((s) => s.name.startsWith(prefix)),
  };

  constructor(private readonly now: () => Date) {}

  /** A new EC2 instance id: `i-0` and 16 hex digits (17 in all), e.g. `i-00000000000000001`. */
  newInstanceId(): string {
    return `i-0${(this.nextInstance++).toString(16).padStart(16, '0')}`;
  }

  setInstance(groupName: string, instanceId: string, lifecycleState: string): void {
    let group = this.groups.get(groupName);
    if (!group) {
      group = new Map();
      this.groups.set(groupName, group);
    }
    group.set(instanceId, lifecycleState);
  }

  /** An instance leaving its group: `Terminating:Wait` (its terminate hook), unless it is on its way out already. */
  private beginTermination(instanceId: string): InstanceActionOutcome {
    const group = [...this.groups.values()].find((instances) => instances.has(instanceId));
    const state = group?.get(instanceId);
    if (!group || state === undefined || state === 'Terminated') {
      return 'not-found';
    }
    if (state.startsWith('Terminating')) {
      return 'not-in-service';
    }
    group.set(instanceId, 'Terminating:Wait');
    return 'done';
  }

  /** A secret written at `createdAt`, as the registration function would have. */
  seedSecret(fleet: FleetRuntimeEntry, instanceId: string, createdAt: Date): void {
    const name = `${fleet.secretPrefix}${instanceId}`;
    this.secrets.set(name, { name, instanceId, createdAt: createdAt.toISOString() });
  }
}

/** Sums what the handlers publish, per metric name (all fleets together). */
export class CountingMetrics implements MetricsPort {
  readonly totals = new Map<string, number>();

  add(name: string, _fleet: string, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  flush(): void {}

  total(name: string): number {
    return this.totals.get(name) ?? 0;
  }
}

/** Counts log lines per level and keeps the first few warnings and errors (to show what went wrong). */
export class CountingLogger implements LoggerPort {
  readonly counts = { info: 0, warn: 0, error: 0 };
  readonly problems: string[] = [];

  info(): void {
    this.counts.info++;
  }

  warn(message: string, attributes?: Record<string, unknown>): void {
    this.counts.warn++;
    this.keep('WARN', message, attributes);
  }

  error(message: string, attributes?: Record<string, unknown>): void {
    this.counts.error++;
    this.keep('ERROR', message, attributes);
  }

  private keep(level: string, message: string, attributes?: Record<string, unknown>): void {
    if (this.problems.length < 5) {
      this.problems.push(`${level} ${message} ${attributes ? JSON.stringify(attributes) : ''}`.trim());
    }
  }
}
