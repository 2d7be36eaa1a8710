/**
 * The SHA-256 of each runner release tarball this library pins, by version and architecture. The
 * bootstrap refuses a download whose digest differs (a tampered file, a wrong mirror, a truncated
 * transfer) before it unpacks anything or runs the runner's `installdependencies.sh` as root.
 *
 * The digests are the ones GitHub publishes with each release (the release notes of
 * https://github.com/actions/runner/releases and the "New self-hosted runner" page show them). For a
 * version that is not here, give the fleet's `runnerSha256`.
 */
export const PINNED_RUNNER_SHA256: Readonly<Record<string, Readonly<Record<'x64' | 'arm64', string>>>> = {
  '2.329.0': {
    x64: '194f1e1e4bd02f80b7e9633fc546084d8d4e19f3928a324d512ea53430102e1d',
    arm64: '56768348b3d643a6a29d4ad71e9bdae0dc0ef1eb01afe0f7a8ee097b039bfaaf',
  },
};

/** The file name of a runner release tarball for Linux. */
export function runnerTarballName(version: string, architecture: 'x64' | 'arm64'): string {
  return `actions-runner-linux-${architecture}-${version}.tar.gz`;
}

/** The pinned digest of a release tarball, or undefined when this library pins none for it. */
export function pinnedRunnerSha256(version: string, architecture: 'x64' | 'arm64'): string | undefined {
  return Object.prototype.hasOwnProperty.call(PINNED_RUNNER_SHA256, version) ? PINNED_RUNNER_SHA256[version][architecture] : undefined;
}

/** Whether a string is a SHA-256 digest written as 64 hexadecimal digits. */
export function isSha256(value: string): boolean {
  return /^[0-9a-f]{64}$/i.test(value);
}
