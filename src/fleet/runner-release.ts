import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GitHubRunnerFleetProps } from './props';
import { isSha256, PINNED_RUNNER_SHA256, pinnedRunnerSha256, runnerTarballName } from '../instances/runner-releases';
import { Mistakes } from '../validation';

/** The runner release installed when `runnerVersion` is not given. */
export const DEFAULT_RUNNER_VERSION = '2.329.0';

/** The runner release a fleet's instances install, resolved and validated. */
export interface RunnerRelease {
  readonly runnerVersion: string;
  /** Lower case, or a token. */
  readonly runnerSha256: string;
  readonly runnerDownloadBaseUrl?: string;
}

/** A runner architecture, as the runner release's file name (and the runners' label) says it. */
export type RunnerArchitecture = 'x64' | 'arm64';

/** The runner release's architecture name (as in its file name) for an instance type: the one place it is mapped. */
export function runnerArchitecture(instanceType: ec2.InstanceType): RunnerArchitecture {
  return instanceType.architecture === ec2.InstanceArchitecture.ARM_64 ? 'arm64' : 'x64';
}

/**
 * The runner release the instances install: its version, the digest they check, and where they fetch it.
 * A mistake is recorded; the instances then fall back to the default release (the digest checks of a
 * version that is not one would only repeat the mistake), or to the pinned digest, or to GitHub's
 * releases.
 */
export function resolveRunnerRelease(props: GitHubRunnerFleetProps, architecture: RunnerArchitecture, mistakes: Mistakes): RunnerRelease {
  let runnerDownloadBaseUrl = props.runnerDownloadBaseUrl;
  if (runnerDownloadBaseUrl !== undefined && !Token.isUnresolved(runnerDownloadBaseUrl)
    && !/^https:\/\/[^\s'"\\/?#]+(\/[^\s'"\\?#]*)?$/.test(runnerDownloadBaseUrl)) {
    mistakes.add(`runnerDownloadBaseUrl (${JSON.stringify(runnerDownloadBaseUrl)}) must be an https URL without spaces, quotes, backslashes, "?" or "#", `
      + 'such as "https://github.com/actions/runner/releases/download": the instances download <base>/v<version>/actions-runner-linux-<arch>-<version>.tar.gz');
    runnerDownloadBaseUrl = undefined;
  }
  const defaultRelease = (): RunnerRelease => ({
    runnerVersion: DEFAULT_RUNNER_VERSION,
    runnerSha256: pinnedRunnerSha256(DEFAULT_RUNNER_VERSION, architecture)!,
    runnerDownloadBaseUrl,
  });

  const runnerVersion = props.runnerVersion ?? DEFAULT_RUNNER_VERSION;
  if (!Token.isUnresolved(runnerVersion) && !/^\d+\.\d+\.\d+$/.test(runnerVersion)) {
    mistakes.add(`runnerVersion (${JSON.stringify(runnerVersion)}) is not a version: give a release number such as "${DEFAULT_RUNNER_VERSION}", without a leading "v"`);
    return defaultRelease();
  }
  const file = runnerTarballName(runnerVersion, architecture);
  const releasePage = `https://github.com/actions/runner/releases/tag/v${runnerVersion}`;
  const pinned = Token.isUnresolved(runnerVersion) ? undefined : pinnedRunnerSha256(runnerVersion, architecture);

  let runnerSha256 = props.runnerSha256;
  if (runnerSha256 === undefined) {
    if (pinned === undefined) {
      mistakes.add(Token.isUnresolved(runnerVersion)
        ? `runnerVersion is a deploy-time value, so no digest pinned by this library applies: give runnerSha256, the SHA-256 of ${file}`
        : `runnerVersion (${JSON.stringify(runnerVersion)}) has no SHA-256 pinned by this library (it pins ${Object.keys(PINNED_RUNNER_SHA256).join(', ')}): `
          + `give runnerSha256, the SHA-256 of ${file} from the release notes of ${releasePage}, or use a pinned runnerVersion`);
      return defaultRelease();
    }
    runnerSha256 = pinned;
  } else if (!Token.isUnresolved(runnerSha256)) {
    if (!isSha256(runnerSha256)) {
      mistakes.add(`runnerSha256 (${JSON.stringify(runnerSha256)}) is not a SHA-256 digest: give the 64 hexadecimal digits published for ${file} `
        + `(the release notes of ${releasePage}), without a "sha256:" prefix or spaces`);
      if (pinned === undefined) {
        return defaultRelease();
      }
      runnerSha256 = pinned;
    }
    runnerSha256 = runnerSha256.toLowerCase();
    if (pinned !== undefined && runnerSha256 !== pinned) {
      mistakes.add(`runnerSha256 (${runnerSha256}) differs from the digest this library pins for ${file} (${pinned}): `
        + `remove runnerSha256 to use the pinned digest, or check that you copied the digest of ${file} (this fleet's architecture is ${architecture})`);
      runnerSha256 = pinned;
    }
  }
  return { runnerVersion, runnerSha256, runnerDownloadBaseUrl };
}
