import { Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { failureOf, fleetWith } from './helpers';

const types = (...names: string[]) => names.map((n) => new ec2.InstanceType(n));

describe('GitHubRunnerFleet: capacity', () => {
  test('spot with an on-demand base: a mixed instances policy over the types in order, price-capacity-optimized, capacity rebalancing', () => {
    const { stack } = fleetWith({
      instanceTypes: types('m7i.large', 'm6i.large', 'm5.large'),
      spot: { onDemandBaseCapacity: 1 },
      warmPool: { enabled: false },
    });
    const template = Template.fromStack(stack);
    const group = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties;
    expect(group.LaunchTemplate).toBeUndefined();
    expect(group.CapacityRebalance).toBe(true);
    expect(group.MixedInstancesPolicy.LaunchTemplate.Overrides).toEqual([
      { InstanceType: 'm7i.large' }, { InstanceType: 'm6i.large' }, { InstanceType: 'm5.large' },
    ]);
    expect(group.MixedInstancesPolicy.InstancesDistribution).toEqual({
      OnDemandAllocationStrategy: 'prioritized',
      OnDemandBaseCapacity: 1,
      OnDemandPercentageAboveBaseCapacity: 0,
      SpotAllocationStrategy: 'price-capacity-optimized',
    });
    template.resourceCountIs('AWS::AutoScaling::WarmPool', 0);
  });

  test('several on-demand types without spot: all on-demand, in order of preference', () => {
    const { stack } = fleetWith({ instanceTypes: types('c7g.large', 'c6g.large'), warmPool: { enabled: false } });
    const group = Object.values(Template.fromStack(stack).findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties;
    expect(group.MixedInstancesPolicy.InstancesDistribution).toEqual({
      OnDemandAllocationStrategy: 'prioritized', OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 100,
    });
    expect(group.CapacityRebalance).toBeUndefined();
  });

  test('a single on-demand type keeps the plain launch template (and its warm pool)', () => {
    const { stack } = fleetWith();
    const group = Object.values(Template.fromStack(stack).findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties;
    expect(group.MixedInstancesPolicy).toBeUndefined();
    expect(group.LaunchTemplate).toBeDefined();
  });

  test('Graviton types give the arm64 runner', () => {
    const { fleet } = fleetWith({ instanceTypes: types('m7g.large', 'm6g.large'), warmPool: { enabled: false } });
    expect(fleet.launchTemplate).toBeDefined();
    const data = JSON.stringify(Template.fromStack(fleet.node.scope as any).toJSON());
    expect(data).toContain('actions-runner-linux-arm64-');
  });

  test('a spot fleet\'s control plane counts interruption warnings: a rule to the deregistration function', () => {
    const { stack } = fleetWith({ spot: {}, warmPool: { enabled: false } });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
    });
  });

  test('an on-demand fleet has no spot rule', () => {
    const rules = Object.values(Template.fromStack(fleetWith().stack).findResources('AWS::Events::Rule'));
    expect(rules.some((r: any) => JSON.stringify(r.Properties.EventPattern ?? {}).includes('Spot'))).toBe(false);
  });

  test.each([
    [{ spot: {} }, 'spot cannot be combined with a warm pool: EC2 Auto Scaling keeps no instance of a mixed instances policy'],
    [{ instanceTypes: types('m7i.large', 'm6i.large') }, 'instanceTypes (several types) cannot be combined with a warm pool'],
    [{ instanceType: new ec2.InstanceType('m7i.large'), instanceTypes: types('m6i.large') }, 'instanceType and instanceTypes are both set'],
    [{ instanceTypes: [], warmPool: { enabled: false } }, 'instanceTypes has 0 types: give 1 to 40'],
    [{ instanceTypes: types('m7i.large', 'm7g.large'), warmPool: { enabled: false } }, 'instanceTypes mixes architectures (m7i.large, m7g.large)'],
    [{ instanceTypes: types('m7i.large', 'm7i.large'), warmPool: { enabled: false } }, 'instanceTypes lists m7i.large twice'],
    [{ spot: { onDemandBaseCapacity: 11 }, warmPool: { enabled: false } }, 'spot.onDemandBaseCapacity (11)'],
    [{ spot: { onDemandPercentageAboveBaseCapacity: 101 }, warmPool: { enabled: false } }, 'spot.onDemandPercentageAboveBaseCapacity (101)'],
  ])('fails for %p', (overrides, message) => {
    expect(failureOf(overrides as any)).toContain(message);
  });

  test('the allocation strategy can be chosen', () => {
    const spot = { allocationStrategy: autoscaling.SpotAllocationStrategy.CAPACITY_OPTIMIZED, capacityRebalance: false };
    const { stack } = fleetWith({ spot, warmPool: { enabled: false } });
    const group = Object.values(Template.fromStack(stack).findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties;
    expect(group.MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy).toBe('capacity-optimized');
    expect(group.CapacityRebalance).toBe(false);
  });
});
