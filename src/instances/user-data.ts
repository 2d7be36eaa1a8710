// TEMPORARY PLACEHOLDER written by the lead so the constructs compile; helper-3 replaces this whole file.
export interface BootstrapOptions {
  readonly os: 'amazon-linux-2023' | 'ubuntu';
  readonly architecture: 'x64' | 'arm64';
  readonly runnerVersion: string;
  readonly runnerDownloadBaseUrl?: string;
  readonly mode: 'ephemeral' | 'persistent';
  readonly secretPrefix: string;
  readonly launchHookName: string;
  readonly installDocker: boolean;
  readonly extraPackages: string[];
  readonly extraCommands: string[];
  readonly blockJobMetadataAccess: boolean;
  readonly inServiceTimeoutSeconds: number;
}
export function renderUserData(options: BootstrapOptions): string {
  return `#!/bin/bash\n# ${JSON.stringify(options)}\n`;
}
