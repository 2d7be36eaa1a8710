/**
 * Integration test: two fleets (x86_64 and Graviton) sharing one control plane with the workflow_job
 * webhook, against the GitHub organization named by the context value `github-org` (default `acme`) and
 * a GitHub App secret named by `github-secret-name`.
 *
 * Deploy for real: `npx integ-runner --language typescript --force test/integ.shared-control-plane.ts`
 * (AWS credentials, and the App secret in place). Offline, `npx projen integ` verifies the snapshot.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GitHubRunnerControlPlane, GitHubRunnerFleet } from '../src';
import { integEnvironment } from './integ-environment';

const { app, stack, vpc, github } = integEnvironment('GitHubRunnerFleetShared');
const controlPlane = new GitHubRunnerControlPlane(stack, 'Runners', {
  github,
  webhook: {},
});
// Scale from zero (the webhook's demand), one warm instance each.
const common = { vpc, controlPlane, labels: ['integ', 'linux'], idleRunners: 0, minCapacity: 0, maxCapacity: 2, warmPool: { minSize: 1 } };
const x64 = new GitHubRunnerFleet(stack, 'X64', { ...common, fleetName: 'integ-shared-x64' });
const arm64 = new GitHubRunnerFleet(stack, 'Arm64', { ...common, fleetName: 'integ-shared-arm64', instanceType: new ec2.InstanceType('m7g.large') });

const integ = new IntegTest(app, 'SharedControlPlane', { testCases: [stack] });

// One listing serves both fleets: the idle-metric function reports counts for each of them.
integ.assertions.invokeFunction({ functionName: controlPlane.idleMetricFunction.functionName })
  .expect(ExpectedResult.objectLike({
    StatusCode: 200,
    Payload: Match.stringLikeRegexp('"ok":true.*"integ-shared-x64".*"integ-shared-arm64"'),
  }));

// Both groups exist with their warm pools, and are tagged with the one control plane.
for (const fleet of [x64, arm64]) {
  integ.assertions.awsApiCall('AutoScaling', 'describeWarmPool', { AutoScalingGroupName: fleet.autoScalingGroup.autoScalingGroupName })
    .expect(ExpectedResult.objectLike({ WarmPoolConfiguration: { PoolState: 'Stopped', MinSize: 1 } }));
}

// The webhook answers 401 to a delivery without a signature: nothing unverified is acted on.
integ.assertions.httpApiCall(controlPlane.webhookUrl!, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': 'integ-unsigned' },
  body: JSON.stringify({ action: 'queued' }),
}).expect(ExpectedResult.objectLike({ status: 401 }));

// A ping signed with the wrong secret is refused too.
integ.assertions.httpApiCall(controlPlane.webhookUrl!, {
  method: 'POST',
  headers: { 'x-github-event': 'ping', 'x-github-delivery': 'integ-bad', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
  body: '{}',
}).expect(ExpectedResult.objectLike({ status: 401 }));

// The instance agent's URL (AWS_IAM) refuses a request that is not signed: Lambda answers 403 before the
// function runs, so only signed callers (the instances' roles) reach it.
integ.assertions.httpApiCall(controlPlane.instanceAgentUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ action: 'leave', after: 'job', instanceId: 'i-0123456789abcdef0' }),
}).expect(ExpectedResult.objectLike({ status: 403 }));
