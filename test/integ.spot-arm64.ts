/**
 * Integration test: a Graviton spot fleet (several types, an on-demand base of one, no warm pool) kept at
 * one instance, against the GitHub organization named by the context value `github-org` (default `acme`)
 * and a GitHub App secret named by `github-secret-name`.
 *
 * Deploy for real: `npx integ-runner --language typescript --force test/integ.spot-arm64.ts`
 * (AWS credentials, and the App secret in place). Offline, `npx projen integ` verifies the snapshot.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GitHubRunnerFleet, RunnerMode } from '../src';
import { integEnvironment } from './integ-environment';

const { app, stack, vpc, github } = integEnvironment('GitHubRunnerFleetSpotArm64');
const fleet = new GitHubRunnerFleet(stack, 'Spot', {
  vpc,
  github,
  fleetName: 'integ-spot-arm64',
  labels: ['integ', 'spot'],
  instanceTypes: [new ec2.InstanceType('m7g.large'), new ec2.InstanceType('m6g.large'), new ec2.InstanceType('c7g.large')],
  spot: { onDemandBaseCapacity: 1 },
  warmPool: { enabled: false },
  runnerMode: RunnerMode.PERSISTENT,
  minCapacity: 1,
  idleRunners: 1,
  maxCapacity: 2,
});

const integ = new IntegTest(app, 'SpotArm64', { testCases: [stack] });

// The group runs a mixed instances policy with the on-demand base.
integ.assertions.awsApiCall('AutoScaling', 'describeAutoScalingGroups', { AutoScalingGroupNames: [fleet.autoScalingGroup.autoScalingGroupName] })
  .expect(ExpectedResult.objectLike({
    AutoScalingGroups: [{ MixedInstancesPolicy: { InstancesDistribution: { OnDemandBaseCapacity: 1 } }, CapacityRebalance: true }],
  }));

// The instance boots, registers, and its arm64 runner comes online: the idle-metric function counts it.
integ.assertions.invokeFunction({ functionName: fleet.idleMetricFunction.functionName })
  .expect(ExpectedResult.objectLike({
    StatusCode: 200,
    Payload: Match.stringLikeRegexp('"integ-spot-arm64":\\{"idle":1'),
  }))
  .waitForAssertions({ totalTimeout: Duration.minutes(15), interval: Duration.seconds(30) });
