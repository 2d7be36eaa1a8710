import { describeError } from './deps';
import { MetricNames } from '../../src/contract';
import type { FleetRuntimeEntry } from '../../src/contract';
import { CapacityDecision, decideCapacity, groupFacts, idleRunnersOf, raiseTo } from '../core/capacity';
import type { AutoScalingPort, GitHubRunner, GroupCapacity, JobStorePort, LoggerPort, MetricsPort } from '../ports';

/** What the controller needs: it reads the group, may raise its desired capacity, and publishes the gap. */
export interface CapacityControllerDeps {
  readonly autoScaling: Pick<AutoScalingPort, 'describeCapacity' | 'setDesiredCapacity'>;
  readonly metrics: MetricsPort;
  readonly logger: LoggerPort;
}

/** What the caller knows of the fleet's demand. */
export interface DemandFacts {
  /** Jobs queued for the fleet (with a webhook); undefined without a demand signal. */
  readonly waiting?: number;
  /** Idle runners (GitHub); needed only without a demand signal. */
  readonly idle?: number;
  /**
   * Without a demand signal: the connection's runners as GitHub lists them; the idle count is taken from
   * them against the group's protected instances (instead of `idle`).
   */
  readonly runners?: GitHubRunner[];
  /** The group as read already by the caller (saves a DescribeAutoScalingGroups call). */
  readonly group?: GroupCapacity;
}

export interface ControlReport extends CapacityDecision {
  /** The desired capacity the direct path set, when it raised it. */
  readonly raisedTo?: number;
  /** The gap published for the alarms: what is left after the direct path. */
  readonly published: number;
}

/**
 * One evaluation of the capacity controller for a fleet: reads the group (desired, min, max, protected
 * instances), decides the need, raises the desired capacity to it when the fleet has the direct path
 * and the gap is positive, and publishes what is left of the gap (`CapacityGap`) and the need
 * (`CapacityNeeded`) at high resolution. The alarms act on the published gap only, which is measured
 * after the direct path acted: the two never both close the same gap. After raising, the group is read
 * back once: a concurrent evaluation whose call crossed this one's (setting its smaller need after this
 * one's larger) is undone at once.
 *
 * Returns undefined (publishing nothing) when the group cannot be read: no data is not a zero.
 */
export async function controlCapacity(
  deps: CapacityControllerDeps,
  fleet: FleetRuntimeEntry,
  demand: DemandFacts,
): Promise<ControlReport | undefined> {
  let group: GroupCapacity;
  try {
    group = demand.group ?? await deps.autoScaling.describeCapacity(fleet.autoScalingGroupName);
  } catch (error) {
    deps.logger.warn('The Auto Scaling group could not be read: no capacity decision this time', { fleet: fleet.name, ...describeError(error) });
    return undefined;
  }
  const decision = decideCapacity({
    group: groupFacts(group),
    idleTarget: fleet.idleTarget ?? 0,
    waiting: demand.waiting,
    idle: demand.runners ? idleRunnersOf(demand.runners, fleet, group.instances) : demand.idle ?? 0,
  });
  let published = decision.gap;
  let raisedTo: number | undefined;
  const target = fleet.directScaleOut ? raiseTo(decision) : undefined;
  if (target !== undefined) {
    try {
      await deps.autoScaling.setDesiredCapacity(fleet.autoScalingGroupName, target);
      raisedTo = target;
      published = 0;
      // SetDesiredCapacity is not conditional: an evaluation that read the group before this one and calls
      // after it sets its smaller need. Read back once and raise again when that happened.
      const after = await deps.autoScaling.describeCapacity(fleet.autoScalingGroupName);
      if (after.desired < target) {
        deps.logger.info('A concurrent evaluation set a lower desired capacity: raising it again', { fleet: fleet.name, found: after.desired, target });
        await deps.autoScaling.setDesiredCapacity(fleet.autoScalingGroupName, target);
      }
    } catch (error) {
      // The alarm closes the gap instead: it is published whole.
      deps.logger.warn('The desired capacity could not be raised: the scale-out alarm will add the gap', {
        fleet: fleet.name, target, ...describeError(error),
      });
    }
  }
  deps.metrics.add(MetricNames.CAPACITY_GAP, fleet.name, published, { highResolution: true });
  deps.metrics.add(MetricNames.CAPACITY_NEEDED, fleet.name, decision.need, { highResolution: true });
  return { ...decision, raisedTo, published };
}

/**
 * With a webhook: publishes a fleet's queued jobs and runs its controller with them as the waiting jobs
 * (`queued` when the caller has read the queue already).
 */
export async function controlFleet(
  deps: CapacityControllerDeps & { readonly jobs: Pick<JobStorePort, 'queuedJobs'> },
  fleet: FleetRuntimeEntry,
  queued?: number,
): Promise<ControlReport | undefined> {
  const waiting = queued ?? (await deps.jobs.queuedJobs(fleet.name)).length;
  deps.metrics.add(MetricNames.QUEUED_JOBS, fleet.name, waiting, { highResolution: true });
  return controlCapacity(deps, fleet, { waiting });
}

/** The log attributes of a controller evaluation. */
export function capacitySummary(report: ControlReport | undefined): Record<string, unknown> {
  return report
    ? { need: report.need, have: report.have, gap: report.gap, mode: report.mode, raisedTo: report.raisedTo }
    : { need: undefined };
}
