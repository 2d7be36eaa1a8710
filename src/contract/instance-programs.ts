import { createHash } from 'crypto';

/**
 * The runner-fleet programs every instance runs, shared by the constructs (src/, which pin their digest in
 * each fleet's user data) and the instance agent (lambda/, which serves them): one installer script,
 * rendered here from the files of `assets/instance`, the same for every fleet.
 *
 * This module must not import aws-cdk-lib or constructs: lambda/ bundles it.
 */

/** A program the installer writes: its file in `assets/instance`, where it goes, and its mode. */
export interface InstanceProgram {
  readonly asset: string;
  readonly path: string;
  readonly mode: string;
}

/** The programs, in the order the installer writes them. */
export const INSTANCE_PROGRAMS: readonly InstanceProgram[] = [
  { asset: 'lib.sh', path: '/opt/runner-fleet/bin/lib.sh', mode: '0644' },
  { asset: 'bootstrap.sh', path: '/opt/runner-fleet/bin/bootstrap', mode: '0755' },
  { asset: 'job-event.sh', path: '/opt/runner-fleet/bin/job-event', mode: '0755' },
  { asset: 'job-started.sh', path: '/opt/runner-fleet/bin/job-started', mode: '0755' },
  { asset: 'job-completed.sh', path: '/opt/runner-fleet/bin/job-completed', mode: '0755' },
  { asset: 'runner-fleet.service', path: '/etc/systemd/system/runner-fleet.service', mode: '0644' },
];

/**
 * The folder beside the instance agent's bundle that holds a copy of `assets/instance` (the bundle task
 * copies it there), so that the agent serves exactly the programs of its own release.
 */
export const AGENT_PROGRAMS_DIR = 'programs';

/** A file a script writes: its path below the root prefix, its mode and its content. */
export interface ScriptFile {
  readonly path: string;
  readonly mode: string;
  readonly content: string;
}

/** Each file as a quoted heredoc below "$ROOT" (nothing in it is expanded), then its mode. */
export function heredocs(files: readonly ScriptFile[]): string[] {
  return files.flatMap((file) => {
    const marker = uniqueMarker(file.content);
    return [`cat >"$ROOT${file.path}" <<'${marker}'`, file.content.replace(/\n$/, ''), marker, `chmod ${file.mode} "$ROOT${file.path}"`];
  });
}

function uniqueMarker(content: string): string {
  let marker = 'RUNNER_FLEET_EOF';
  while (content.split('\n').includes(marker)) {
    marker += '_';
  }
  return marker;
}

/** The programs' files, each read by `readAsset` (a file name of `assets/instance` → its text). */
export function programFiles(readAsset: (asset: string) => string): ScriptFile[] {
  return INSTANCE_PROGRAMS.map((p) => ({ path: p.path, mode: p.mode, content: readAsset(p.asset) }));
}

/**
 * The script that installs the programs: each file written below `$RUNNER_FLEET_ROOT` with its mode. The
 * instance fetches it from the agent at its first boot and runs it once its SHA-256 matches the digest
 * its user data pins.
 */
export function renderProgramInstaller(readAsset: (asset: string) => string): string {
  return [
    '#!/bin/bash',
    '# cdk-github-runner-fleet: writes the runner-fleet programs (the same for every fleet).',
    'set -euo pipefail',
    'ROOT="${RUNNER_FLEET_ROOT:-}"',
    ...heredocs(programFiles(readAsset)),
    '',
  ].join('\n');
}

/** The SHA-256 (64 lower-case hexadecimal digits) of a program installer's UTF-8 bytes, as `sha256sum` prints it. */
export function programsDigest(installer: string): string {
  return createHash('sha256').update(installer, 'utf8').digest('hex');
}

/** What the agent's `programs` action answers: the installer (base64 of its UTF-8 bytes) and its digest. */
export interface ServedPrograms {
  readonly sha256: string;
  readonly installer: string;
}

/** The agent's answer for the programs read by `readAsset`. */
export function servedPrograms(readAsset: (asset: string) => string): ServedPrograms {
  const installer = renderProgramInstaller(readAsset);
  return { sha256: programsDigest(installer), installer: Buffer.from(installer, 'utf8').toString('base64') };
}
