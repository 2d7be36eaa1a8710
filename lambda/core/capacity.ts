/**
 * The capacity controller: from facts about a fleet, the capacity it needs and the gap to what it has.
 *
 * - **need** = jobs waiting for the fleet + jobs running on it + the idle target, clamped to the group's
 *   minimum and maximum size. Without a demand signal (no webhook) the waiting jobs are unknown: while
 *   every runner is busy the fleet is taken to be saturated and the need is twice the busy runners plus
 *   the idle target (doubling per round, bounded by the maximum); as soon as a runner is idle again the
 *   need falls back to busy + idle target.
 * - **have** = the group's desired capacity: every instance in service and not retiring, pending,
 *   leaving the warm pool, or launched and not yet registered is counted there, and an ephemeral
 *   instance that retires after its job leaves it (it terminates itself with a decrement).
 * - **gap** = need - have: one adjustment of `gap` makes the desired capacity exactly the need, whatever
 *   its size; a repeated evaluation on unchanged facts finds a gap of 0 and asks for nothing. So no
 *   instance warm-up has to keep a step from being applied twice.
 *
 * Pure: no clock, no I/O.
 */
import type { FleetRuntimeEntry } from '../../src/contract';
import type { GitHubRunner, GroupCapacity, GroupInstance } from '../ports';
import { belongsToFleet } from './runner-counts';

/** What the Auto Scaling group says of a fleet. */
export interface GroupFacts {
  /** The group's desired capacity. */
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  /**
   * Instances of the group (not of its warm pool) whose runner is running a job: the job-started hook
   * protects an instance from scale-in, so these are the protected instances. Unlike GitHub's `busy`
   * flag this does not lag.
   */
  readonly busy: number;
}

export interface CapacityFacts {
  readonly group: GroupFacts;
  /** Idle runners to keep ready. */
  readonly idleTarget: number;
  /** Jobs queued for the fleet, from the demand signal; undefined when there is none (no webhook). */
  readonly waiting?: number;
  /**
   * Online runners of the fleet that run no job (GitHub, less those on protected instances). Used only
   * without a demand signal, to tell a saturated fleet from one with a runner to spare.
   */
  readonly idle: number;
}

export type CapacityMode =
  /** Waiting jobs are known: need = waiting + busy + idle target. */
  | 'demand'
  /** No demand signal and a runner to spare (or nothing running): need = busy + idle target. */
  | 'steady'
  /** No demand signal and every runner busy: need = 2 x busy + idle target. */
  | 'saturated';

export interface CapacityDecision {
  /** The capacity the fleet needs, within min..max. */
  readonly need: number;
  /** The capacity it has or has on the way (the desired capacity). */
  readonly have: number;
  /** need - have: positive adds instances, negative removes them, 0 changes nothing. */
  readonly gap: number;
  readonly mode: CapacityMode;
  /** need before clamping to min..max (what the demand alone asks for). */
  readonly unclamped: number;
}

/** The capacity a fleet needs and the gap to what it has. */
export function decideCapacity(facts: CapacityFacts): CapacityDecision {
  const { group } = facts;
  const min = whole(group.min);
  const max = Math.max(min, whole(group.max));
  const busy = whole(group.busy);
  const idleTarget = whole(facts.idleTarget);
  let mode: CapacityMode;
  let unclamped: number;
  if (facts.waiting !== undefined) {
    mode = 'demand';
    unclamped = whole(facts.waiting) + busy + idleTarget;
  } else if (busy > 0 && whole(facts.idle) === 0) {
    mode = 'saturated';
    unclamped = 2 * busy + idleTarget;
  } else {
    mode = 'steady';
    unclamped = busy + idleTarget;
  }
  const need = Math.min(max, Math.max(min, unclamped));
  const have = whole(group.desired);
  return { need, have, gap: need - have, mode, unclamped };
}

/**
 * The desired capacity the direct path may set: the need, when it is above the desired capacity read.
 * The direct path only ever raises capacity; scale-in is left to the alarm, which waits for the excess to
 * last. (Two evaluations whose calls cross can still set the smaller need last: the handler reads the
 * group back after raising.)
 */
export function raiseTo(decision: CapacityDecision): number | undefined {
  return decision.gap > 0 ? decision.need : undefined;
}

/** Counts below 0, fractions or non-numbers are facts gone wrong: they count as 0, never as capacity. */
function whole(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** Whether an instance counts as running a job: protected from scale-in and not on its way out. */
export function isBusyInstance(instance: GroupInstance): boolean {
  return instance.protectedFromScaleIn === true && !instance.lifecycleState.startsWith('Terminating')
    && !instance.lifecycleState.startsWith('Warmed') && instance.lifecycleState !== 'Terminated';
}

/** The group's facts as the controller counts them. */
export function groupFacts(capacity: GroupCapacity): GroupFacts {
  return {
    desired: capacity.desired,
    min: capacity.min,
    max: capacity.max,
    busy: capacity.instances.filter(isBusyInstance).length,
  };
}

/**
 * Online runners of `fleet` that are not running a job: GitHub's `busy` flag lags a job's start by up
 * to a minute, so a runner whose instance is protected from scale-in (its job-started hook ran) is busy
 * whatever the flag says.
 */
export function idleRunnersOf(runners: GitHubRunner[], fleet: Pick<FleetRuntimeEntry, 'fleetLabel' | 'name'>, instances: GroupInstance[]): number {
  const busyInstances = new Set(instances.filter(isBusyInstance).map((i) => i.instanceId));
  const prefix = `${fleet.name}-`;
  return runners.filter((r) => belongsToFleet(r, fleet) && r.status === 'online' && !r.busy
    && !(r.name.startsWith(prefix) && busyInstances.has(r.name.slice(prefix.length)))).length;
}
