import type { FleetRuntimeConfig } from '../../src/contract';
import type { AutoScalingPort, GitHubPort, JobStorePort, LoggerPort, MetricsPort, RuntimeEnvironment, SecretsPort } from '../ports';
import { GitHubError } from '../ports';

/** Everything a handler needs, built once at cold start by the entry point. */
export interface HandlerDeps {
  readonly config: FleetRuntimeConfig;
  readonly github: GitHubPort;
  readonly autoScaling: AutoScalingPort;
  readonly secrets: SecretsPort;
  readonly metrics: MetricsPort;
  readonly logger: LoggerPort;
  readonly environment: RuntimeEnvironment;
  /** The webhook's job store (only when the control plane has a webhook). */
  readonly jobs?: JobStorePort;
  readonly now?: () => Date;
}

/** Log attributes of an error, without anything that could carry a secret (no request bodies). */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof GitHubError) {
    return { errorKind: error.kind, status: error.status, githubRequestId: error.requestId, error: error.message };
  }
  if (error instanceof Error) {
    return { errorKind: error.name, error: error.message };
  }
  return { errorKind: 'unknown', error: String(error) };
}
