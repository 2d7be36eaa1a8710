import type { LifecycleEventBridgeEvent } from '../../lambda/core/lifecycle-event';
import type { GitHubRunner } from '../../lambda/ports';
import type { FleetRuntimeConfig, FleetRuntimeEntry } from '../../src/contract';

export function fleetEntry(overrides: Partial<FleetRuntimeEntry> = {}): FleetRuntimeEntry {
  const name = overrides.name ?? 'linux';
  return {
    name,
    autoScalingGroupName: `${name}-asg`,
    instanceRoleName: `${name}-instance-role`,
    fleetLabel: `fleet-${name}`,
    labels: ['linux', 'x64', `fleet-${name}`],
    mode: 'ephemeral',
    runnerGroupId: 1,
    secretPrefix: `github-runner-fleet/${name}/`,
    offlineGraceSeconds: 900,
    drainTimeoutSeconds: 7200,
    idleTarget: 1,
    os: 'linux',
    architecture: 'x64',
    // As the parser normalizes it (the constructs leave it out when false).
    directScaleOut: false,
    ...overrides,
  };
}

export function runtimeConfig(fleets: FleetRuntimeEntry[] = [fleetEntry()], apiUrl = 'https://api.github.com'): FleetRuntimeConfig {
  return {
    version: 1,
    github: { scope: 'organization', owner: 'acme', apiUrl, secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gh-AbCdEf', auth: 'app' },
    fleets,
  };
}

export function lifecycleEvent(options: {
  type?: 'launch' | 'terminate';
  group?: string;
  instanceId?: string;
  origin?: string;
  destination?: string;
  token?: string;
  time?: string;
} = {}): LifecycleEventBridgeEvent {
  const type = options.type ?? 'launch';
  return {
    'detail-type': type === 'launch' ? 'EC2 Instance-launch Lifecycle Action' : 'EC2 Instance-terminate Lifecycle Action',
    'source': 'aws.autoscaling',
    'time': options.time ?? '2026-11-24T10:00:00Z',
    'detail': {
      LifecycleActionToken: options.token ?? 'token-1',
      AutoScalingGroupName: options.group ?? 'linux-asg',
      LifecycleHookName: type === 'launch' ? 'github-runner-fleet-launch' : 'github-runner-fleet-terminate',
      EC2InstanceId: options.instanceId ?? 'i-0123456789abcdef0',
      LifecycleTransition: type === 'launch' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: options.origin ?? (type === 'launch' ? 'EC2' : 'AutoScalingGroup'),
      Destination: options.destination ?? (type === 'launch' ? 'AutoScalingGroup' : 'EC2'),
    },
  };
}

let nextId = 1;
export function runner(overrides: Partial<GitHubRunner> = {}): GitHubRunner {
  return {
    id: nextId++,
    name: 'linux-i-0123456789abcdef0',
    status: 'online',
    busy: false,
    labels: ['self-hosted', 'Linux', 'X64', 'linux', 'fleet-linux'],
    ...overrides,
  };
}

/** A `workflow_job` payload in GitHub's documented shape (the fields the library reads, and a few more). */
export function workflowJobPayload(overrides: {
  action?: string;
  id?: number;
  labels?: string[];
  createdAt?: string;
  startedAt?: string | null;
  runnerName?: string | null;
  repository?: string;
  /** `organization.login` (null: no organization). @default 'acme' */
  organization?: string | null;
  /** `enterprise.slug`. @default - no enterprise */
  enterprise?: string;
  /** `installation.id` (null: no installation, an organization webhook). @default 7890 */
  installationId?: number | null;
} = {}): string {
  return JSON.stringify({
    action: overrides.action ?? 'queued',
    workflow_job: {
      id: overrides.id ?? 29679449,
      run_id: 10510592467,
      run_attempt: 1,
      status: overrides.action === 'completed' ? 'completed' : overrides.action === 'in_progress' ? 'in_progress' : 'queued',
      conclusion: null,
      labels: overrides.labels ?? ['self-hosted', 'linux', 'x64'],
      runner_id: null,
      runner_name: overrides.runnerName ?? null,
      runner_group_id: null,
      created_at: overrides.createdAt ?? '2026-11-24T10:00:00Z',
      started_at: overrides.startedAt ?? null,
      completed_at: null,
      workflow_name: 'CI',
      head_branch: 'main',
    },
    repository: { id: 1296269, full_name: overrides.repository ?? 'acme/app', name: 'app' },
    ...(overrides.organization === null ? {} : { organization: { login: overrides.organization ?? 'acme' } }),
    ...(overrides.enterprise === undefined ? {} : { enterprise: { id: 11, slug: overrides.enterprise } }),
    ...(overrides.installationId === null ? {} : { installation: { id: overrides.installationId ?? 7890 } }),
  });
}
