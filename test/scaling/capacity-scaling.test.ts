import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CapacityScaling, CapacityScalingProps } from '../../src/scaling/capacity-scaling';
import { synthMistakes } from '../fleet/helpers';

function scalingWith(overrides: Partial<CapacityScalingProps>) {
  const stack = new Stack(new App(), 'S');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
  const autoScalingGroup = new autoscaling.AutoScalingGroup(stack, 'Group', {
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
    instanceType: new ec2.InstanceType('m7i.large'),
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
  });
  const scaling = new CapacityScaling(stack, 'Scaling', {
    autoScalingGroup,
    gap: new cloudwatch.Metric({ namespace: 'N', metricName: 'CapacityGap' }),
    maxCapacity: 10,
    scaleOutPeriod: Duration.seconds(10),
    scaleOutEvaluationPeriods: 1,
    scaleInPeriod: Duration.minutes(1),
    scaleInEvaluationPeriods: 2,
    estimatedInstanceWarmup: Duration.seconds(0),
    ...overrides,
  });
  return { stack, scaling };
}

describe('CapacityScaling: mistakes are reported at synth', () => {
  test('sound props: no mistake, two alarms', () => {
    const { stack } = scalingWith({});
    expect(synthMistakes(stack)).toEqual([]);
    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Alarm', 2);
  });

  test('a maxCapacity and evaluation periods that are no whole numbers: no throw, each reported under the path', () => {
    let built: ReturnType<typeof scalingWith> | undefined;
    expect(() => { built = scalingWith({ maxCapacity: 0, scaleOutEvaluationPeriods: 1.5, scaleInEvaluationPeriods: 0 }); }).not.toThrow();
    expect(synthMistakes(built!.stack)).toEqual([
      { path: 'S/Scaling', message: 'maxCapacity (0) must be a whole number >= 1' },
      { path: 'S/Scaling', message: 'scaleOutEvaluationPeriods (1.5) must be a whole number >= 1' },
      { path: 'S/Scaling', message: 'scaleInEvaluationPeriods (0) must be a whole number >= 1' },
    ]);
    // Built on the fallbacks meanwhile: one step each way, one evaluation period.
    expect(built!.stack.resolve((built!.scaling.scaleInAlarm.node.defaultChild as cloudwatch.CfnAlarm).evaluationPeriods)).toBe(1);
  });
});
