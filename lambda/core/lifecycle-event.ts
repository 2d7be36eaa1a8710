import type { FleetRuntimeConfig, FleetRuntimeEntry } from '../../src/contract';
import type { LifecycleActionRef } from '../ports';

export const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';

/** The `detail` of an EventBridge lifecycle action event (fields we use). */
export interface LifecycleActionDetail {
  readonly LifecycleActionToken?: string;
  readonly AutoScalingGroupName?: string;
  readonly LifecycleHookName?: string;
  readonly EC2InstanceId?: string;
  readonly LifecycleTransition?: string;
  readonly NotificationMetadata?: string;
  /** `EC2`, `AutoScalingGroup` or `WarmPool`. */
  readonly Origin?: string;
  /** `EC2`, `AutoScalingGroup` or `WarmPool`. */
  readonly Destination?: string;
}

export interface LifecycleEventBridgeEvent {
  readonly 'detail-type': string;
  readonly 'source'?: string;
  readonly 'id'?: string;
  readonly 'time'?: string;
  readonly 'detail': LifecycleActionDetail;
}

/**
 * What a lifecycle event means for us:
 * - `launch-into-service`: an instance is going into service (cold start from EC2, warm start from the pool)
 * - `launch-into-warm-pool`: an instance is being prepared for the warm pool
 * - `terminate`: an instance in service (or never placed) is terminating
 * - `return-to-warm-pool`: an instance in service goes back to the warm pool (ReuseOnScaleIn); the
 *   TERMINATING hook fires at `Warmed:Pending:Wait`
 * - `terminate-from-warm-pool`: a warm instance is terminated without ever having served
 */
export type LifecycleEventKind =
  | 'launch-into-service'
  | 'launch-into-warm-pool'
  | 'terminate'
  | 'return-to-warm-pool'
  | 'terminate-from-warm-pool';

export type ClassifiedLifecycleEvent =
  | {
    readonly kind: LifecycleEventKind;
    readonly fleet: FleetRuntimeEntry;
    readonly instanceId: string;
    readonly action: LifecycleActionRef;
    readonly origin?: string;
  }
  | { readonly kind: 'test-notification' }
  | { readonly kind: 'ignored'; readonly reason: string };

/** Classifies an EventBridge lifecycle event. Never throws, whatever the input. */
export function classifyLifecycleEvent(event: unknown, config: FleetRuntimeConfig): ClassifiedLifecycleEvent {
  if (typeof event !== 'object' || event === null) {
    return { kind: 'ignored', reason: 'not an object' };
  }
  const e = event as Partial<LifecycleEventBridgeEvent>;
  const detail = (typeof e.detail === 'object' && e.detail !== null ? e.detail : {}) as LifecycleActionDetail;
  const transition = str(detail.LifecycleTransition);
  if (transition === 'autoscaling:TEST_NOTIFICATION' || str((detail as Record<string, unknown>).Event) === 'autoscaling:TEST_NOTIFICATION') {
    return { kind: 'test-notification' };
  }
  const detailType = str(e['detail-type']);
  const launching = detailType === LAUNCH_DETAIL_TYPE;
  const terminating = detailType === TERMINATE_DETAIL_TYPE;
  if (!launching && !terminating) {
    return { kind: 'ignored', reason: `unexpected detail-type ${JSON.stringify(e['detail-type'])}` };
  }
  const groupName = str(detail.AutoScalingGroupName);
  const instanceId = str(detail.EC2InstanceId);
  const hookName = str(detail.LifecycleHookName);
  if (!groupName || !instanceId || !hookName) {
    return { kind: 'ignored', reason: 'missing AutoScalingGroupName, EC2InstanceId or LifecycleHookName' };
  }
  const fleet = config.fleets.find((f) => f.autoScalingGroupName === groupName);
  if (!fleet) {
    return { kind: 'ignored', reason: `group ${groupName} is not one of this connection's fleets` };
  }
  const origin = str(detail.Origin);
  const destination = str(detail.Destination);
  const action: LifecycleActionRef = {
    autoScalingGroupName: groupName,
    hookName,
    instanceId,
    token: str(detail.LifecycleActionToken),
  };
  let kind: LifecycleEventKind;
  if (launching) {
    kind = destination === 'WarmPool' ? 'launch-into-warm-pool' : 'launch-into-service';
  } else if (origin === 'WarmPool') {
    kind = 'terminate-from-warm-pool';
  } else if (destination === 'WarmPool') {
    kind = 'return-to-warm-pool';
  } else {
    kind = 'terminate';
  }
  return { kind, fleet, instanceId, action, origin };
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
