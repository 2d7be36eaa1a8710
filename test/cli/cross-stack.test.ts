import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { readFleets } from '../../cli/simulate/template';
import { GitHubConnection, GitHubCredentials, GitHubRunnerControlPlane, GitHubRunnerFleet } from '../../src';

describe('the simulator reads an app whose fleets live in other stacks than their control plane', () => {
  test('each fleet of the directory is modelled from its own stack, with its control plane\'s configuration', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'simulate-cross-'));
    const app = new App({ outdir });
    const env = { account: '123456789012', region: 'eu-west-1' };
    const plane = new Stack(app, 'Plane', { env });
    const secret = secretsmanager.Secret.fromSecretNameV2(plane, 'AppSecret', 'github-app');
    const github = GitHubConnection.organization('acme', { credentials: GitHubCredentials.fromAppSecret(secret) });
    const controlPlane = new GitHubRunnerControlPlane(plane, 'Runners', { github, webhook: {} });
    const vpc = new ec2.Vpc(plane, 'Vpc', { maxAzs: 2, natGateways: 1 });
    new GitHubRunnerFleet(plane, 'Local', { vpc, controlPlane, labels: ['linux', 'local'], fleetName: 'local' });
    const other = new Stack(app, 'Fleets', { env });
    new GitHubRunnerFleet(other, 'Remote', { vpc, controlPlane, labels: ['linux', 'remote'], fleetName: 'remote', maxCapacity: 7 });
    app.synth();

    const fleets = readFleets(outdir);
    expect(fleets.map((f) => `${f.stack}/${f.fleet.name}`).sort()).toEqual(['Fleets/remote', 'Plane/local']);
    const remote = fleets.find((f) => f.fleet.name === 'remote')!;
    expect(remote).toMatchObject({ stack: 'Fleets', maxSize: 7 });
    expect(remote.alarms.length).toBeGreaterThan(0);
    // The control plane's configuration: its webhook, and the fleet (from the directory) alone.
    expect(remote.config.webhook).toBeDefined();
    expect(remote.config.fleets.map((f) => f.name)).toEqual(['remote']);
    expect(remote.fleet.instanceRoleName).toMatch(/^simulated-/);
  });
});
