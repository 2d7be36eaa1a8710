import fc from 'fast-check';
import { classifyLifecycleEvent } from '../../../lambda/core/lifecycle-event';
import { fleetEntry, lifecycleEvent, runtimeConfig } from '../fixtures';

const config = runtimeConfig([fleetEntry(), fleetEntry({ name: 'arm' })]);

describe('classifyLifecycleEvent', () => {
  test.each([
    ['launch', 'EC2', 'AutoScalingGroup', 'launch-into-service'],
    ['launch', 'WarmPool', 'AutoScalingGroup', 'launch-into-service'],
    ['launch', 'EC2', 'WarmPool', 'launch-into-warm-pool'],
    ['terminate', 'AutoScalingGroup', 'EC2', 'terminate'],
    ['terminate', 'EC2', 'EC2', 'terminate'],
    ['terminate', 'AutoScalingGroup', 'WarmPool', 'return-to-warm-pool'],
    ['terminate', 'WarmPool', 'EC2', 'terminate-from-warm-pool'],
  ] as const)('%s from %s to %s is %s', (type, origin, destination, kind) => {
    const result = classifyLifecycleEvent(lifecycleEvent({ type, origin, destination }), config);
    expect(result.kind).toBe(kind);
  });

  test('events without Origin/Destination (older groups) go into service or terminate', () => {
    const launch = lifecycleEvent();
    delete (launch.detail as any).Origin;
    delete (launch.detail as any).Destination;
    expect(classifyLifecycleEvent(launch, config).kind).toBe('launch-into-service');
    const term = lifecycleEvent({ type: 'terminate' });
    delete (term.detail as any).Origin;
    delete (term.detail as any).Destination;
    expect(classifyLifecycleEvent(term, config).kind).toBe('terminate');
  });

  test('matches the fleet by group name and carries the action reference', () => {
    const result = classifyLifecycleEvent(lifecycleEvent({ group: 'arm-asg', instanceId: 'i-0aaaaaaaaaaaaaaaa', token: 'tok' }), config);
    expect(result).toMatchObject({
      kind: 'launch-into-service',
      fleet: { name: 'arm' },
      instanceId: 'i-0aaaaaaaaaaaaaaaa',
      action: { autoScalingGroupName: 'arm-asg', hookName: 'github-runner-fleet-launch', instanceId: 'i-0aaaaaaaaaaaaaaaa', token: 'tok' },
    });
  });

  test.each([
    [{ ...lifecycleEvent(), detail: { ...lifecycleEvent().detail, LifecycleTransition: 'autoscaling:TEST_NOTIFICATION' } }, 'test-notification'],
    [lifecycleEvent({ group: 'someone-elses-asg' }), 'ignored'],
    [{ ...lifecycleEvent(), 'detail-type': 'Scheduled Event' }, 'ignored'],
    [{ ...lifecycleEvent(), detail: { AutoScalingGroupName: 'linux-asg' } }, 'ignored'],
    [null, 'ignored'],
    ['a string', 'ignored'],
  ])('%#: %p is %s', (event, kind) => {
    expect(classifyLifecycleEvent(event, config).kind).toBe(kind);
  });

  test('property: never throws, whatever the input', () => {
    fc.assert(fc.property(fc.anything(), (event) => {
      const result = classifyLifecycleEvent(event, config);
      expect(typeof result.kind).toBe('string');
    }));
    fc.assert(fc.property(fc.record({ 'detail-type': fc.string(), 'detail': fc.dictionary(fc.string(), fc.anything()) }), (event) => {
      expect(() => classifyLifecycleEvent(event, config)).not.toThrow();
    }));
  });
});
