import { buildInstanceSecretPayload, planRegistration } from '../../../lambda/core/registration';
import { instanceIdFromRunnerName, instanceIdFromSecretName } from '../../../lambda/core/runner-names';
import { decideTermination, presenceOf } from '../../../lambda/core/termination';
import { fleetEntry } from '../fixtures';

const fleet = fleetEntry({ drainTimeoutSeconds: 3600 });
const now = new Date('2026-11-24T12:00:00Z');

describe('decideTermination', () => {
  test.each([
    ['none', undefined, 'complete'],
    ['none', '2026-11-24T10:00:00Z', 'complete'],
    ['online', undefined, 'wait-for-instance'],
    ['online', '2026-11-24T11:30:00Z', 'wait-for-instance'],
    ['online', '2026-11-24T11:00:00Z', 'complete-drain-timeout'],
    ['offline', undefined, 'leave-to-instance'],
    ['offline', '2026-11-24T10:00:00Z', 'complete-drain-timeout'],
    ['unknown', undefined, 'leave-to-instance'],
    ['unknown', '2026-11-24T11:59:00Z', 'leave-to-instance'],
  ] as const)('runner %s, terminating since %p: %s', (runner, since, decision) => {
    expect(decideTermination({ fleet, runner, terminatingSince: since ? new Date(since) : undefined, now })).toBe(decision);
  });

  test.each([
    [undefined, 'none'],
    [{ status: 'online', busy: false }, 'online'],
    [{ status: 'online', busy: true }, 'online'],
    [{ status: 'offline', busy: true }, 'online'],
    [{ status: 'offline', busy: false }, 'offline'],
  ] as const)('presence of %p: %s', (runner, presence) => {
    expect(presenceOf(runner)).toBe(presence);
  });
});

describe('planRegistration', () => {
  const env = { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' };
  test('ephemeral fleets register with JIT; the secret is named after the instance and tagged with its ARN', () => {
    expect(planRegistration('launch-into-service', fleetEntry(), 'i-0123456789abcdef0', env)).toEqual({
      action: 'register',
      method: 'jit',
      runnerName: 'linux-i-0123456789abcdef0',
      secretName: 'github-runner-fleet/linux/i-0123456789abcdef0',
      instanceArn: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0',
    });
  });
  test('persistent fleets use a registration token', () => {
    expect(planRegistration('launch-into-service', fleetEntry({ mode: 'persistent' }), 'i-0123456789abcdef0', env)).toMatchObject({ method: 'token' });
  });
  test('warm-pool launches are left to the instance', () => {
    expect(planRegistration('launch-into-warm-pool', fleetEntry(), 'i-0123456789abcdef0', env).action).toBe('leave-to-instance');
  });
  test('secret payloads', () => {
    expect(JSON.parse(buildInstanceSecretPayload(fleetEntry(), 'n', { jitConfig: 'J' }))).toEqual({ mode: 'ephemeral', runnerName: 'n', jitConfig: 'J' });
    expect(JSON.parse(buildInstanceSecretPayload(fleetEntry({ runnerGroupName: 'G' }), 'n', { registrationToken: 'T', registrationUrl: 'U' })))
      .toEqual({ mode: 'persistent', runnerName: 'n', registrationToken: 'T', registrationUrl: 'U', labels: 'linux,x64,fleet-linux', runnerGroupName: 'G' });
  });
});

describe('runner names', () => {
  test.each([
    ['linux', 'linux-i-0123456789abcdef0', 'i-0123456789abcdef0'],
    ['linux', 'linux-i-01234567', 'i-01234567'],
    ['linux', 'linux-x64-i-0123456789abcdef0', undefined],
    ['linux', 'arm-i-0123456789abcdef0', undefined],
    ['linux', 'linux-i-XYZ', undefined],
  ])('%s / %s → %p', (fleetName, runnerName, expected) => {
    expect(instanceIdFromRunnerName(fleetName, runnerName)).toBe(expected);
  });
  test('secret names', () => {
    expect(instanceIdFromSecretName('p/', 'p/i-0123456789abcdef0')).toBe('i-0123456789abcdef0');
    expect(instanceIdFromSecretName('p/', 'q/i-0123456789abcdef0')).toBeUndefined();
  });
});
