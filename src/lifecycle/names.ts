import { createHash } from 'crypto';
import { LAUNCH_HOOK_NAME, TERMINATE_HOOK_NAME } from '../contract';

/**
 * The names a control plane gives its fleets' resources, all derived from its id (the value of the
 * `github-runner-fleet:control-plane` tag), so that a fleet of another stack (or another app, importing
 * the control plane by name) names them the same without any reference to the control plane's stack.
 */
export interface ControlPlaneNames {
  /** The launch hook of each fleet's group; the control plane's launch rule matches this name. */
  readonly launchHookName: string;
  /** The terminate hook of each fleet's group; the control plane's terminate rule matches this name. */
  readonly terminateHookName: string;
  /** Every per-instance secret of the control plane's fleets is named below this prefix (ends with '/'). */
  readonly secretPrefix: string;
  /** The SSM parameter path (starts and ends with '/') through which fleets of other stacks join. */
  readonly fleetDirectory: string;
  /**
   * The path (starts and ends with '/') of the parameters a named control plane publishes for fleets
   * of other apps (see `GitHubRunnerControlPlane.fromControlPlaneName`): one per {@link PublishedAttribute}.
   */
  readonly published: string;
}

/** What a named control plane publishes for the fleets of other apps, each as an SSM parameter. */
export const PUBLISHED_ATTRIBUTES = [
  'agent-url',
  'agent-function-arn',
  'registration-function-arn',
  'deregistration-function-arn',
  'idle-metric-function-arn',
  'dead-letter-queue-arn',
] as const;

/** One attribute a named control plane publishes. */
export type PublishedAttribute = typeof PUBLISHED_ATTRIBUTES[number];

/** The names of the control plane with this id. */
export function controlPlaneNames(controlPlaneId: string): ControlPlaneNames {
  // Hook names are kept short (a group lists them in every lifecycle event): the hook's kind and 8 hex digits.
  const suffix = createHash('sha256').update(controlPlaneId).digest('hex').slice(0, 8);
  return {
    launchHookName: `${LAUNCH_HOOK_NAME}-${suffix}`,
    terminateHookName: `${TERMINATE_HOOK_NAME}-${suffix}`,
    secretPrefix: `github-runner-fleet/${controlPlaneId}/`,
    fleetDirectory: `/github-runner-fleet/${controlPlaneId}/fleets/`,
    published: `/github-runner-fleet/${controlPlaneId}/control-plane/`,
  };
}

/** The secret prefix of one fleet of a control plane: `<control plane's prefix><fleet name>/`. */
export function fleetSecretPrefix(names: ControlPlaneNames, fleetName: string): string {
  return `${names.secretPrefix}${fleetName}/`;
}
