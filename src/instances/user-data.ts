import * as fs from 'fs';
import * as path from 'path';
import { Token, Tokenization } from 'aws-cdk-lib';
import { isSha256, runnerTarballName } from './runner-releases';
import { shellQuote } from './shell';
import { heredocs, programFiles, programsDigest, renderProgramInstaller, ScriptFile } from '../contract/instance-programs';

/**
 * The instance programs are real files (`assets/instance/*.sh`), which shellcheck and the shell tests
 * read as they are. The instance agent serves them (a copy of the folder ships beside its bundle); the
 * user data carries only the fleet's settings (`config.env`), the programs' pinned SHA-256 and the
 * fetching (`fetch-programs.sh`). The folder is found from this module in `src/instances` and in
 * `lib/instances` alike.
 */
export const INSTANCE_ASSETS_DIR = path.join(__dirname, '..', '..', 'assets', 'instance');

/** The end of every user data: fetches, checks and runs the program installer. */
export const FETCH_PROGRAMS_ASSET = 'fetch-programs.sh';

/** An instance program, as shipped. */
export function instanceAsset(name: string): string {
  return fs.readFileSync(path.join(INSTANCE_ASSETS_DIR, name), 'utf8');
}

/** Everything the instance bootstrap needs to know, fixed at synth time. */
export interface BootstrapOptions {
  readonly os: 'amazon-linux-2023' | 'ubuntu';
  readonly architecture: 'x64' | 'arm64';
  /** e.g. '2.329.0' */
  readonly runnerVersion: string;
  /**
   * The SHA-256 of the runner tarball (64 hexadecimal digits): the bootstrap refuses a download with
   * another digest before it unpacks anything.
   */
  readonly runnerSha256: string;
  /** @default https://github.com/actions/runner/releases/download */
  readonly runnerDownloadBaseUrl?: string;
  readonly mode: 'ephemeral' | 'persistent';
  /** Secret name = secretPrefix + instance id. */
  readonly secretPrefix: string;
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
  return `${base}/v${options.runnerVersion}/${runnerTarballName(options.runnerVersion, options.architecture)}`;
}

/** Throws, naming the option and the value, when the options cannot make a working script. */
export function validateBootstrapOptions(options: BootstrapOptions): void {
  if (!/^\d+\.\d+\.\d+$/.test(options.runnerVersion)) {
    throw new Error(`runnerVersion (${JSON.stringify(options.runnerVersion)}) is not a version such as "2.329.0"`);
  }
  if (!/^[A-Za-z0-9/_+=.@-]+\/$/.test(options.secretPrefix)) {
    throw new Error(`secretPrefix (${JSON.stringify(options.secretPrefix)}) must be a Secrets Manager name prefix ending with "/"`);
  }
  if (!Token.isUnresolved(options.runnerSha256) && !isSha256(options.runnerSha256)) {
    throw new Error(`runnerSha256 (${JSON.stringify(options.runnerSha256)}) is not a SHA-256 digest: give the 64 hexadecimal digits `
      + `the release page shows for ${runnerDownloadUrl(options).split('/').pop()}`);
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
    ['RF_RUNNER_SHA256', Token.isUnresolved(options.runnerSha256) ? options.runnerSha256 : options.runnerSha256.toLowerCase()],
    ['RF_MODE', options.mode],
    ['RF_SECRET_PREFIX', options.secretPrefix],
    ['RF_INSTALL_DOCKER', String(options.installDocker)],
    ['RF_BLOCK_METADATA', String(options.blockJobMetadataAccess)],
    ['RF_IN_SERVICE_TIMEOUT', String(options.inServiceTimeoutSeconds)],
    ['RF_AGENT_URL', options.agentUrl ?? ''],
    ['RF_PROGRAMS_SHA256', programInstallerSha256()],
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

/** Every file an instance of this fleet gets: its settings (and extra commands), then the programs. */
export function bootstrapFiles(options: BootstrapOptions): ScriptFile[] {
  return [...fleetFiles(options), ...programFiles(instanceAsset)];
}

/** The files that differ from fleet to fleet: the settings and the user's extra commands. */
function fleetFiles(options: BootstrapOptions): ScriptFile[] {
  const files = [{ path: '/etc/runner-fleet/config.env', mode: '0644', content: renderConfigEnv(options) }];
  if (options.extraCommands.length > 0) {
    files.push({ path: '/opt/runner-fleet/bin/prepare-extra', mode: '0755', content: renderPrepareExtra(options.extraCommands) });
  }
  return files;
}

/** The program installer of this release, as the agent serves it (the same for every fleet). */
export function programInstaller(): string {
  return renderProgramInstaller(instanceAsset);
}

/** The end of every user data: `fetch-programs.sh` without its first line (`#!/bin/bash`). */
export function fetchProgramsScript(): string {
  return instanceAsset(FETCH_PROGRAMS_ASSET).replace(/^#!.*\n/, '').replace(/\n$/, '');
}

/** The SHA-256 of this release's program installer: each fleet's user data pins it. */
export function programInstallerSha256(): string {
  // The programs ship with the package and do not change during a synthesis: read and hashed once, not per fleet.
  installerSha256 ??= programsDigest(programInstaller());
  return installerSha256;
}
let installerSha256: string | undefined;

/** EC2's limit on user data, in bytes before base64 encoding. */
export const USER_DATA_LIMIT_BYTES = 16_384;

/** What a value only known at deployment (the agent's URL) is assumed to take in the user data, at most. */
const TOKEN_ESTIMATE_BYTES = 128;

/**
 * The EC2 user data: writes the fleet's settings (and extra commands), fetches the programs from the
 * control plane's instance agent and installs them once their SHA-256 is the pinned one
 * (`assets/instance/fetch-programs.sh`, verbatim), and enables a systemd unit that runs the bootstrap at
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
    ...heredocs(fleetFiles(options)),
    fetchProgramsScript(),
    'systemctl daemon-reload',
    'systemctl enable runner-fleet.service',
    'systemctl start --no-block runner-fleet.service',
    '',
  ];
  return lines.join('\n');
}

/**
 * What is wrong with the size of a rendered user data, if anything: above EC2's 16 KB, with the figures
 * and the fix. The fleet reports it at synth with its other mistakes.
 */
export function userDataSizeProblem(userData: string, extraCommands: readonly string[]): string | undefined {
  const bytes = userDataBytes(userData);
  if (bytes <= USER_DATA_LIMIT_BYTES) {
    return undefined;
  }
  const extra = extraCommands.length === 0 ? 0 : Buffer.byteLength(renderPrepareExtra([...extraCommands]), 'utf8');
  return `the user data would be about ${bytes} bytes, above EC2's limit of ${USER_DATA_LIMIT_BYTES} bytes `
    + `(extraCommands take ${extra} of them): `
    + 'move long extraCommands into a script your instances download, or into the machine image (machineImage)';
}

/** The size of the user data once deployed, with each deploy-time value counted at its assumed maximum. */
export function userDataBytes(userData: string): number {
  const tokens = Tokenization.reverseString(userData).tokens.length;
  const literal = userData.replace(/\$\{Token\[[^\]]*\]\}/g, '');
  return Buffer.byteLength(literal, 'utf8') + tokens * TOKEN_ESTIMATE_BYTES;
}
