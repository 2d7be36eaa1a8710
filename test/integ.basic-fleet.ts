/**
 * Integration test: one fleet in a new VPC, against the GitHub organization named by the context value
 * `github-org` (default `acme`) and a GitHub App secret named by `github-secret-name`.
 *
 * Deploy for real: `npx integ-runner --language typescript --force test/integ.basic-fleet.ts`
 * (with AWS credentials and the secret in place). Offline, `npx projen integ` verifies the snapshot.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { GitHubRunnerFleet } from '../src';
import { integEnvironment } from './integ-environment';

const { app, stack, vpc, github } = integEnvironment('GitHubRunnerFleetBasic');
const fleet = new GitHubRunnerFleet(stack, 'Fleet', {
  vpc,
  github,
  fleetName: 'integ-basic',
  labels: ['integ', 'linux'],
  idleRunners: 1,
  maxCapacity: 2,
  warmPool: { minSize: 1 },
});

const integ = new IntegTest(app, 'BasicFleet', { testCases: [stack] });

// The idle-metric function runs without error against the real GitHub organization...
integ.assertions.invokeFunction({ functionName: fleet.idleMetricFunction.functionName })
  .expect(ExpectedResult.objectLike({ StatusCode: 200 }));

// ...the warm pool is in place...
integ.assertions.awsApiCall('AutoScaling', 'describeWarmPool', { AutoScalingGroupName: fleet.autoScalingGroup.autoScalingGroupName })
  .expect(ExpectedResult.objectLike({ WarmPoolConfiguration: { PoolState: 'Stopped', MinSize: 1 } }));

// ...and with idleRunners 1 the capacity controller (the minute tick's direct path, or the scale-out alarm)
// brings an instance into service.
integ.assertions.awsApiCall('AutoScaling', 'describeAutoScalingGroups', {
  AutoScalingGroupNames: [fleet.autoScalingGroup.autoScalingGroupName],
}).expect(ExpectedResult.objectLike({
  AutoScalingGroups: [{ Instances: [{ LifecycleState: 'InService' }] }],
})).waitForAssertions();
