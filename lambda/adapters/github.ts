import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { GitHubRuntimeConfig } from '../../src/contract';
import type {
  DeleteRunnerOutcome, GitHubPort, GitHubRunner, JitConfig, JitConfigRequest, LoggerPort, RegistrationToken,
} from '../ports';
import { GitHubError } from '../ports';
import { parseCredentials } from './github-credentials';
import { mapGitHubError } from './github-errors';

const FleetOctokit = Octokit.plugin(retry, throttling);
type FleetOctokitInstance = InstanceType<typeof FleetOctokit>;

export interface RateLimitInfo {
  readonly remaining: number;
  readonly limit: number;
  readonly resource: string;
}

export interface GitHubPortOptions {
  /** Reads the credentials secret's value (called once per cold start, and again after a failure). */
  readonly readCredentials: () => Promise<string>;
  readonly logger?: LoggerPort;
  readonly onRateLimit?: (info: RateLimitInfo) => void;
  /** Retries of 5xx answers (plugin-retry). Default 2. */
  readonly retries?: number;
  /** Base of plugin-retry's quadratic back-off, in ms. Default 1000. */
  readonly retryBaseMs?: number;
  /** Per-request timeout. Default 8000 ms. */
  readonly requestTimeoutMs?: number;
  /** Rate-limit retries (plugin-throttling), each only when GitHub asks to wait at most 60 s. Default 2. */
  readonly throttleRetryLimit?: number;
}

/**
 * The GitHub REST API for one connection, through Octokit with the retry and throttling plugins.
 * The Octokit client (and with it the App installation token, cached by @octokit/auth-app for its
 * lifetime) is built once and reused by every warm invocation.
 */
export function createGitHubPort(config: GitHubRuntimeConfig, options: GitHubPortOptions): GitHubPort {
  let client: Promise<FleetOctokitInstance> | undefined;
  const octokit = (): Promise<FleetOctokitInstance> => {
    client ??= buildClient(config, options).catch((error) => {
      client = undefined; // try again on the next call
      throw error;
    });
    return client;
  };
  const base = config.scope === 'repository'
    ? { path: '/repos/{owner}/{repo}/actions/runners', params: { owner: config.owner, repo: config.repo! } }
    : { path: '/orgs/{org}/actions/runners', params: { org: config.owner } };

  const call = async <T>(fn: (o: FleetOctokitInstance) => Promise<T>): Promise<T> => {
    const o = await octokit();
    try {
      return await fn(o);
    } catch (error) {
      throw mapGitHubError(error);
    }
  };

  return {
    async listRunners() {
      return call(async (o) => {
        // paginate() follows the Link headers and unwraps `{ total_count, runners }` into one array.
        const route = `GET ${base.path}` as 'GET /orgs/{org}/actions/runners';
        const runners = await o.paginate(route, { ...base.params, per_page: 100 } as { org: string; per_page: number });
        return (runners as unknown as RawRunner[]).map(toRunner);
      });
    },
    async findRunnerByName(name) {
      return call(async (o) => {
        const response = await o.request(`GET ${base.path}`, { ...base.params, name, per_page: 100 });
        const runners = ((response.data as { runners?: RawRunner[] }).runners ?? []).map(toRunner);
        return runners.find((r) => r.name === name);
      });
    },
    async generateJitConfig(request: JitConfigRequest): Promise<JitConfig> {
      return call(async (o) => {
        const response = await o.request(`POST ${base.path}/generate-jitconfig`, {
          ...base.params,
          name: request.name,
          runner_group_id: request.runnerGroupId,
          labels: request.labels,
          work_folder: request.workFolder ?? '_work',
        });
        const data = response.data as { runner?: { id?: number }; encoded_jit_config?: string };
        if (typeof data.encoded_jit_config !== 'string' || typeof data.runner?.id !== 'number') {
          throw new GitHubError('generate-jitconfig answered without runner.id or encoded_jit_config', 'validation', response.status);
        }
        return { runnerId: data.runner.id, encodedJitConfig: data.encoded_jit_config };
      });
    },
    async createRegistrationToken(): Promise<RegistrationToken> {
      return call(async (o) => {
        const response = await o.request(`POST ${base.path}/registration-token`, { ...base.params });
        const data = response.data as { token?: string; expires_at?: string };
        if (typeof data.token !== 'string') {
          throw new GitHubError('registration-token answered without a token', 'validation', response.status);
        }
        return { token: data.token, expiresAt: data.expires_at ?? '' };
      });
    },
    async deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome> {
      const o = await octokit();
      try {
        await o.request(`DELETE ${base.path}/{runner_id}`, { ...base.params, runner_id: runnerId });
        return 'deleted';
      } catch (error) {
        const status = (error as { status?: number }).status;
        if (status === 404) {
          return 'not-found';
        }
        if (status === 422) {
          return 'busy'; // "Bad request - runner is currently running a job"
        }
        throw mapGitHubError(error);
      }
    },
    registrationUrl() {
      return registrationUrlFor(config);
    },
  };
}

/** The URL `config.sh --url` takes, derived from the API URL. */
export function registrationUrlFor(config: Pick<GitHubRuntimeConfig, 'apiUrl' | 'owner' | 'repo'>): string {
  const url = new URL(config.apiUrl);
  let web: string;
  if (url.hostname === 'api.github.com') {
    web = 'https://github.com';
  } else if (/^api\.[a-z0-9-]+\.ghe\.com$/.test(url.hostname)) {
    web = `${url.protocol}//${url.host.replace(/^api\./, '')}`;
  } else {
    web = `${url.protocol}//${url.host}`; // GitHub Enterprise Server: https://host/api/v3
  }
  return config.repo ? `${web}/${config.owner}/${config.repo}` : `${web}/${config.owner}`;
}

interface RawRunner {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels?: Array<{ name: string } | string>;
  ephemeral?: boolean;
  runner_group_id?: number;
}

function toRunner(raw: RawRunner): GitHubRunner {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status === 'online' ? 'online' : 'offline',
    busy: raw.busy === true,
    labels: (raw.labels ?? []).map((l) => (typeof l === 'string' ? l : l.name)),
    ephemeral: raw.ephemeral,
    runnerGroupId: raw.runner_group_id,
  };
}

async function buildClient(config: GitHubRuntimeConfig, options: GitHubPortOptions): Promise<FleetOctokitInstance> {
  let raw: string;
  try {
    raw = await options.readCredentials();
  } catch (error) {
    throw new GitHubError(`could not read the GitHub credentials secret: ${(error as Error).message}`, 'credentials');
  }
  const credentials = parseCredentials(raw, config.auth);
  const logger = options.logger;
  const throttleLimit = options.throttleRetryLimit ?? 2;
  const timeoutMs = options.requestTimeoutMs ?? 8000;
  const common = {
    baseUrl: config.apiUrl,
    // A fresh timeout for every HTTP attempt (retries and rate-limit waits included).
    request: {
      fetch: (url: string, init: RequestInit) => fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }),
    },
    userAgent: 'cdk-github-runner-fleet',
    log: { debug: () => {}, info: () => {}, warn: (m: string) => logger?.warn(m), error: (m: string) => logger?.warn(m) },
    // Rate limits (403/429) are plugin-throttling's: it honours retry-after and x-ratelimit-reset.
    retry: { retries: options.retries ?? 2, retryAfterBaseValue: options.retryBaseMs ?? 1000, doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451] },
    throttle: {
      onRateLimit: (retryAfter: number, request: { method: string; url: string }, _o: unknown, retryCount: number) => {
        logger?.warn('GitHub rate limit reached', { retryAfter, method: request.method, url: request.url, retryCount });
        return retryCount < throttleLimit && retryAfter <= 60;
      },
      onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string }, _o: unknown, retryCount: number) => {
        logger?.warn('GitHub secondary rate limit reached', { retryAfter, method: request.method, url: request.url, retryCount });
        return retryCount < throttleLimit && retryAfter <= 60;
      },
    },
  };

  let installationId = credentials.kind === 'app' ? credentials.installationId : undefined;
  if (credentials.kind === 'app' && installationId === undefined) {
    const appClient = new FleetOctokit({ ...common, authStrategy: createAppAuth, auth: { appId: credentials.appId, privateKey: credentials.privateKey } });
    try {
      const response = config.scope === 'repository'
        ? await appClient.request('GET /repos/{owner}/{repo}/installation', { owner: config.owner, repo: config.repo! })
        : await appClient.request('GET /orgs/{org}/installation', { org: config.owner });
      installationId = (response.data as { id: number }).id;
    } catch (error) {
      throw mapGitHubError(error);
    }
  }
  const client = credentials.kind === 'app'
    ? new FleetOctokit({
      ...common,
      authStrategy: createAppAuth,
      auth: { appId: credentials.appId, privateKey: credentials.privateKey, installationId },
    })
    : new FleetOctokit({ ...common, auth: credentials.token });

  // The API version header, and the rate-limit headers of every answer. before-after-hook binds the
  // options to `request`, so they are changed in place.
  client.hook.wrap('request', async (request, requestOptions) => {
    requestOptions.headers['x-github-api-version'] = '2022-11-28';
    const response = await request(requestOptions);
    const headers = response.headers as Record<string, string | undefined>;
    if (options.onRateLimit && headers['x-ratelimit-remaining'] !== undefined) {
      options.onRateLimit({
        remaining: Number(headers['x-ratelimit-remaining']),
        limit: Number(headers['x-ratelimit-limit']),
        resource: headers['x-ratelimit-resource'] ?? 'core',
      });
    }
    return response;
  });
  return client;
}
