import { runnerNameFor } from '../../src/contract';
import type { FleetRuntimeEntry, InstanceSecretPayload } from '../../src/contract';
import type { RuntimeEnvironment } from '../ports';

export type RegistrationPlan =
  | {
    readonly action: 'register';
    readonly method: 'jit' | 'token';
    readonly runnerName: string;
    readonly secretName: string;
    readonly instanceArn: string;
  }
  | { readonly action: 'leave-to-instance'; readonly reason: string };

/**
 * What registering an instance means. An instance going into the warm pool is left to its own bootstrap:
 * Auto Scaling stops a warm instance as soon as its launch action completes, so completing it here
 * would stop a half-prepared instance. The instance completes the action itself once prepared.
 */
export function planRegistration(
  kind: 'launch-into-service' | 'launch-into-warm-pool',
  fleet: FleetRuntimeEntry,
  instanceId: string,
  env: RuntimeEnvironment,
): RegistrationPlan {
  if (kind === 'launch-into-warm-pool') {
    return { action: 'leave-to-instance', reason: 'warm-pool preparation is completed by the instance itself' };
  }
  return {
    action: 'register',
    method: fleet.mode === 'ephemeral' ? 'jit' : 'token',
    runnerName: runnerNameFor(fleet.name, instanceId),
    secretName: `${fleet.secretPrefix}${instanceId}`,
    instanceArn: `arn:${env.partition}:ec2:${env.region}:${env.accountId}:instance/${instanceId}`,
  };
}

/** The JSON stored in the instance's secret. */
export function buildInstanceSecretPayload(
  fleet: FleetRuntimeEntry,
  runnerName: string,
  credential: { readonly jitConfig: string } | { readonly registrationToken: string; readonly registrationUrl: string },
): string {
  const payload: InstanceSecretPayload = 'jitConfig' in credential
    ? { mode: 'ephemeral', runnerName, jitConfig: credential.jitConfig }
    : {
      mode: 'persistent',
      runnerName,
      registrationToken: credential.registrationToken,
      registrationUrl: credential.registrationUrl,
      labels: fleet.labels.join(','),
      runnerGroupName: fleet.runnerGroupName,
    };
  return JSON.stringify(payload);
}
