import { Token } from 'aws-cdk-lib';
import { BOOTSTRAP_SH, JOB_COMPLETED_SH, JOB_EVENT_SH, JOB_STARTED_SH, LIB_SH, SYSTEMD_UNIT } from './scripts';
import { shellQuote } from './shell';

/** Everything the instance bootstrap needs to know, fixed at synth time. */
export interface BootstrapOptions {
  readonly os: 'amazon-linux-2023' | 'ubuntu';
  readonly architecture: 'x64' | 'arm64';
  /** e.g. '2.329.0' */
  readonly runnerVersion: string;
  /** @default https://github.com/actions/runner/releases/download */
  readonly runnerDownloadBaseUrl?: string;
  readonly mode: 'ephemeral' | 'persistent';
  /** Secret name = secretPrefix + instance id. */
  readonly secretPrefix: string;
  readonly launchHookName: string;
  /** The terminate hook: the instance completes it itself once its runner has stopped while idle. */
  readonly terminateHookName: string;
  readonly installDocker: boolean;
  readonly extraPackages: string[];
  /** Run as root during preparation, in order. */
  readonly extraCommands: string[];
  /** An iptables owner rule keeps the runner user (and so jobs) away from 169.254.169.254. */
  readonly blockJobMetadataAccess: boolean;
  /** How long to wait for InService after a launch into service. */
  readonly inServiceTimeoutSeconds: number;
  /**
   * The URL of the control plane's instance agent (a Lambda function URL with `AWS_IAM` authentication):
   * the instance makes every Auto Scaling call about itself through it, signed with its role's
   * credentials. The instance role has no Auto Scaling write permission of its own.
   *
   * @default - none: rendering fails without it
   */
  readonly agentUrl?: string;
}

const DEFAULT_DOWNLOAD = 'https://github.com/actions/runner/releases/download';

/** The release tarball of the runner for a version and architecture. */
export function runnerDownloadUrl(options: Pick<BootstrapOptions, 'runnerVersion' | 'architecture' | 'runnerDownloadBaseUrl'>): string {
  const base = (options.runnerDownloadBaseUrl ?? DEFAULT_DOWNLOAD).replace(/\/+$/, '');
  return `${base}/v${options.runnerVersion}/actions-runner-linux-${options.architecture}-${options.runnerVersion}.tar.gz`;
}

/** Throws, naming the option and the value, when the options cannot make a working script. */
export function validateBootstrapOptions(options: BootstrapOptions): void {
  if (!/^\d+\.\d+\.\d+$/.test(options.runnerVersion)) {
    throw new Error(`runnerVersion (${JSON.stringify(options.runnerVersion)}) is not a version such as "2.329.0"`);
  }
  if (!/^[A-Za-z0-9/_+=.@-]+\/$/.test(options.secretPrefix)) {
    throw new Error(`secretPrefix (${JSON.stringify(options.secretPrefix)}) must be a Secrets Manager name prefix ending with "/"`);
  }
  for (const [name, value] of [['launchHookName', options.launchHookName], ['terminateHookName', options.terminateHookName]]) {
    if (!/^[A-Za-z0-9_./-]{1,255}$/.test(value)) {
      throw new Error(`${name} (${JSON.stringify(value)}) is not a lifecycle hook name`);
    }
  }
  for (const pkg of options.extraPackages) {
    if (!/^[A-Za-z0-9][A-Za-z0-9+._:=~-]*$/.test(pkg)) {
      throw new Error(`extraPackages contains ${JSON.stringify(pkg)}: a package name has letters, digits and + . _ : = ~ - only`);
    }
  }
  if (!Number.isInteger(options.inServiceTimeoutSeconds) || options.inServiceTimeoutSeconds < 1) {
    throw new Error(`inServiceTimeoutSeconds (${options.inServiceTimeoutSeconds}) must be a whole number of seconds >= 1`);
  }
  if (options.runnerDownloadBaseUrl !== undefined && !/^https:\/\/[^\s'"]+$/.test(options.runnerDownloadBaseUrl)) {
    throw new Error(`runnerDownloadBaseUrl (${JSON.stringify(options.runnerDownloadBaseUrl)}) must be an https URL`);
  }
  if (options.agentUrl === undefined || options.agentUrl === '') {
    throw new Error('agentUrl is missing: the instances make every Auto Scaling call through the control plane\'s instance agent; '
      + 'pass the agent function\'s URL (lambda.FunctionUrl.url)');
  }
  if (!Token.isUnresolved(options.agentUrl) && !/^https:\/\/[^\s'"\\]+$/.test(options.agentUrl)) {
    throw new Error(`agentUrl (${JSON.stringify(options.agentUrl)}) must be an https URL, such as the agent's function URL `
      + '"https://<url-id>.lambda-url.<region>.on.aws/"');
  }
}

/** The configuration file the programs source: one shell-quoted assignment per setting. */
export function renderConfigEnv(options: BootstrapOptions): string {
  const values: Array<[string, string]> = [
    ['RF_OS', options.os],
    ['RF_ARCH', options.architecture],
    ['RF_RUNNER_VERSION', options.runnerVersion],
    ['RF_RUNNER_URL', runnerDownloadUrl(options)],
    ['RF_MODE', options.mode],
    ['RF_SECRET_PREFIX', options.secretPrefix],
    ['RF_LAUNCH_HOOK', options.launchHookName],
    ['RF_TERMINATE_HOOK', options.terminateHookName],
    ['RF_INSTALL_DOCKER', String(options.installDocker)],
    ['RF_BLOCK_METADATA', String(options.blockJobMetadataAccess)],
    ['RF_IN_SERVICE_TIMEOUT', String(options.inServiceTimeoutSeconds)],
    ['RF_AGENT_URL', options.agentUrl ?? ''],
  ];
  return [
    '# Written by cdk-github-runner-fleet at deployment; read by /opt/runner-fleet/bin/*.',
    '# shellcheck disable=SC2034 # sourced by the programs that use these settings',
    ...values.map(([k, v]) => `${k}=${shellQuote(v)}`),
    `RF_EXTRA_PACKAGES=(${options.extraPackages.map(shellQuote).join(' ')})`,
    '',
  ].join('\n');
}

/** The user's extra preparation commands, as a script run as root. */
export function renderPrepareExtra(commands: string[]): string {
  return ['#!/bin/bash', '# Extra preparation commands (GitHubRunnerFleet extraCommands), run as root.', 'set -euo pipefail', ...commands, ''].join('\n');
}

/** Every file the user data writes: path (below the root prefix) → content and mode. */
export function bootstrapFiles(options: BootstrapOptions): Array<{ path: string; mode: string; content: string }> {
  const files = [
    { path: '/etc/runner-fleet/config.env', mode: '0644', content: renderConfigEnv(options) },
    { path: '/opt/runner-fleet/bin/lib.sh', mode: '0644', content: LIB_SH },
    { path: '/opt/runner-fleet/bin/bootstrap', mode: '0755', content: BOOTSTRAP_SH },
    { path: '/opt/runner-fleet/bin/job-event', mode: '0755', content: JOB_EVENT_SH },
    { path: '/opt/runner-fleet/bin/job-started', mode: '0755', content: JOB_STARTED_SH },
    { path: '/opt/runner-fleet/bin/job-completed', mode: '0755', content: JOB_COMPLETED_SH },
    { path: '/etc/systemd/system/runner-fleet.service', mode: '0644', content: SYSTEMD_UNIT },
  ];
  if (options.extraCommands.length > 0) {
    files.push({ path: '/opt/runner-fleet/bin/prepare-extra', mode: '0755', content: renderPrepareExtra(options.extraCommands) });
  }
  return files;
}

/**
 * The EC2 user data: writes the runner-fleet programs and a systemd unit that runs the bootstrap at
 * every boot, then starts it. The heredocs are quoted, so nothing in the files is expanded here.
 */
export function renderUserData(options: BootstrapOptions): string {
  validateBootstrapOptions(options);
  const lines = [
    '#!/bin/bash',
    '# cdk-github-runner-fleet: installs the runner bootstrap (see /opt/runner-fleet/bin/bootstrap).',
    'set -euo pipefail',
    'ROOT="${RUNNER_FLEET_ROOT:-}"',
    'mkdir -p "$ROOT/etc/runner-fleet" "$ROOT/opt/runner-fleet/bin" "$ROOT/etc/systemd/system" "$ROOT/var/log/runner-fleet" "$ROOT/var/lib/runner-fleet"',
  ];
  for (const file of bootstrapFiles(options)) {
    const marker = uniqueMarker(file.content);
    lines.push(`cat >"$ROOT${file.path}" <<'${marker}'`, file.content.replace(/\n$/, ''), marker, `chmod ${file.mode} "$ROOT${file.path}"`);
  }
  lines.push(
    'systemctl daemon-reload',
    'systemctl enable runner-fleet.service',
    'systemctl start --no-block runner-fleet.service',
    '',
  );
  return lines.join('\n');
}

function uniqueMarker(content: string): string {
  let marker = 'RUNNER_FLEET_EOF';
  while (content.split('\n').includes(marker)) {
    marker += '_';
  }
  return marker;
}
