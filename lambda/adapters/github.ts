import type { GitHubRuntimeConfig } from '../../src/contract';
import type {
  DeleteRunnerOutcome, GitHubPort, GitHubRunner, HookDelivery, JitConfig, JitConfigRequest, JobStatus, LoggerPort, RegistrationToken,
} from '../ports';
import { GitHubError } from '../ports';
import { buildGitHubClient, GitHubClient, RateLimitInfo } from './github-client';
import { parseGitHubCredentials } from './github-credentials';
import { failedRequest, mapGitHubError } from './github-errors';

export type { RateLimitInfo } from './github-client';

export interface GitHubPortOptions {
  /** Reads the credentials secret's value: once per execution environment, and again after a 401 or a failed start. */
  readonly readCredentials: () => Promise<string>;
  readonly logger?: LoggerPort;
  /** The clock (for log attributes). @default - the system clock */
  readonly now?: () => Date;
  /** Called with the rate-limit headers of every GitHub answer. */
  readonly onRateLimit?: (info: RateLimitInfo) => void;
  /** Retries of 5xx answers and network failures (plugin-retry). @default 2 */
  readonly retries?: number;
  /** Base of plugin-retry's quadratic back-off (1×, 4×, 9× this), in ms. @default 1000 */
  readonly retryBaseMs?: number;
  /** Timeout of one HTTP attempt, in ms. @default 8000 */
  readonly requestTimeoutMs?: number;
  /** Retries after a rate limit (plugin-throttling). @default 2 */
  readonly throttleRetryLimit?: number;
  /** A rate limit that asks to wait longer than this is not waited for. @default 60 */
  readonly maxRetryAfterSeconds?: number;
  /**
   * Milliseconds left in the current invocation. No attempt starts and no rate-limit wait begins that
   * would eat into `reserveMs`, so the handler keeps time to complete its lifecycle action.
   * @default - no limit
   */
  readonly remainingTimeMs?: () => number;
  /** Time kept back from `remainingTimeMs` for the handler's own AWS calls, in ms. @default 5000 */
  readonly reserveMs?: number;
}

let clients = 0;

/**
 * The GitHub REST API for one connection (organization or repository scope).
 *
 * The Octokit client is built on the first call and kept: create the port once per execution
 * environment (outside the handler) so that warm invocations reuse it and, with it, the App's
 * installation token. A failed start (unreadable secret, GitHub unreachable) is retried on the next call;
 * a 401 drops the client so that a rotated secret is read again.
 */
export function createGitHubPort(config: GitHubRuntimeConfig, options: GitHubPortOptions): GitHubPort {
  const remaining = options.remainingTimeMs;
  const reserve = options.reserveMs ?? 5000;
  let coreLimit: RateLimitInfo | undefined;
  const groupCache = new Map<string, { id: number | undefined; at: number }>();
  const settings = {
    apiUrl: config.apiUrl.replace(/\/+$/, ''),
    logger: options.logger,
    now: options.now ?? (() => new Date()),
    onRateLimit: (info: RateLimitInfo) => {
      if (info.resource === 'core') {
        coreLimit = info;
      }
      options.onRateLimit?.(info);
    },
    retries: options.retries ?? 2,
    retryBaseMs: options.retryBaseMs ?? 1000,
    requestTimeoutMs: options.requestTimeoutMs ?? 8000,
    throttleRetryLimit: options.throttleRetryLimit ?? 2,
    maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 60,
    remainingTimeMs: remaining ? () => remaining() - reserve : () => Number.POSITIVE_INFINITY,
    throttleId: `github-runner-fleet-${++clients}`,
  };
  const scope = runnerScope(config);
  const webUrl = registrationUrlFor(config);

  let client: Promise<GitHubClient> | undefined;
  const start = async (): Promise<GitHubClient> => {
    let raw: string;
    try {
      raw = await options.readCredentials();
    } catch (error) {
      throw new GitHubError(`The GitHub credentials secret could not be read: ${(error as Error).name}: ${(error as Error).message}`, 'credentials');
    }
    return buildGitHubClient(config, parseGitHubCredentials(raw, config.auth), settings);
  };
  const octokit = (): Promise<GitHubClient> => {
    client ??= start().catch((error: unknown) => {
      client = undefined;
      throw error;
    });
    return client;
  };
  /** Runs one call; failures leave as GitHubError. */
  const call = async <T>(fn: (o: GitHubClient) => Promise<T>, expected?: (error: unknown) => T | undefined): Promise<T> => {
    const o = await octokit();
    try {
      return await fn(o);
    } catch (error) {
      const outcome = expected?.(error);
      if (outcome !== undefined) {
        return outcome;
      }
      const mapped = mapGitHubError(error);
      if (mapped.status === 401) {
        client = undefined;
      }
      throw mapped;
    }
  };

  return {
    listRunners: () => call(async (o) => {
      // paginate() follows the Link headers and unwraps `{ total_count, runners }`.
      let runners: RawRunner[];
      if (scope.kind === 'enterprise') {
        runners = await o.paginate<RawRunner>('GET /enterprises/{enterprise}/actions/runners', { ...scope.enterprise, per_page: 100 });
      } else {
        runners = scope.kind === 'repository'
          ? await o.paginate('GET /repos/{owner}/{repo}/actions/runners', { ...scope.repo, per_page: 100 })
          : await o.paginate('GET /orgs/{org}/actions/runners', { ...scope.org, per_page: 100 });
      }
      return runners.map(toRunner);
    }),

    findRunnerByName: (name: string) => call(async (o) => {
      let runners: RawRunner[];
      if (scope.kind === 'enterprise') {
        const response = await o.request('GET /enterprises/{enterprise}/actions/runners', { ...scope.enterprise, name, per_page: 100 });
        runners = (response.data as { runners: RawRunner[] }).runners;
      } else {
        const response = scope.kind === 'repository'
          ? await o.request('GET /repos/{owner}/{repo}/actions/runners', { ...scope.repo, name, per_page: 100 })
          : await o.request('GET /orgs/{org}/actions/runners', { ...scope.org, name, per_page: 100 });
        runners = response.data.runners;
      }
      const found = runners.find((r) => r.name === name);
      return found ? toRunner(found) : undefined;
    }),

    generateJitConfig: (request: JitConfigRequest) => call(async (o): Promise<JitConfig> => {
      const body = {
        name: request.name,
        runner_group_id: request.runnerGroupId,
        labels: request.labels,
        work_folder: request.workFolder ?? '_work',
      };
      let response;
      if (scope.kind === 'enterprise') {
        response = await o.request('POST /enterprises/{enterprise}/actions/runners/generate-jitconfig', { ...scope.enterprise, ...body });
      } else {
        response = scope.kind === 'repository'
          ? await o.request('POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig', { ...scope.repo, ...body })
          : await o.request('POST /orgs/{org}/actions/runners/generate-jitconfig', { ...scope.org, ...body });
      }
      const data = response.data as { runner?: { id?: unknown }; encoded_jit_config?: unknown };
      if (typeof data.encoded_jit_config !== 'string' || data.encoded_jit_config === '' || typeof data.runner?.id !== 'number') {
        throw new GitHubError('generate-jitconfig answered without runner.id or encoded_jit_config', 'validation', response.status,
          response.headers['x-github-request-id']);
      }
      return { runnerId: data.runner.id, encodedJitConfig: data.encoded_jit_config };
    }),

    createRegistrationToken: () => call(async (o): Promise<RegistrationToken> => {
      let response;
      if (scope.kind === 'enterprise') {
        response = await o.request('POST /enterprises/{enterprise}/actions/runners/registration-token', { ...scope.enterprise });
      } else {
        response = scope.kind === 'repository'
          ? await o.request('POST /repos/{owner}/{repo}/actions/runners/registration-token', { ...scope.repo })
          : await o.request('POST /orgs/{org}/actions/runners/registration-token', { ...scope.org });
      }
      const data = response.data as { token?: unknown; expires_at?: unknown };
      if (typeof data.token !== 'string' || data.token === '') {
        throw new GitHubError('registration-token answered without a token', 'validation', response.status,
          response.headers['x-github-request-id']);
      }
      return { token: data.token, expiresAt: typeof data.expires_at === 'string' ? data.expires_at : '' };
    }),

    deleteRunner: (runnerId: number) => call(async (o): Promise<DeleteRunnerOutcome> => {
      if (scope.kind === 'enterprise') {
        await o.request('DELETE /enterprises/{enterprise}/actions/runners/{runner_id}', { ...scope.enterprise, runner_id: runnerId });
      } else if (scope.kind === 'repository') {
        await o.request('DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', { ...scope.repo, runner_id: runnerId });
      } else {
        await o.request('DELETE /orgs/{org}/actions/runners/{runner_id}', { ...scope.org, runner_id: runnerId });
      }
      return 'deleted';
    }, (error) => {
      // Only an answer to the DELETE itself says something about the runner (not, say, a 404 while
      // minting the installation token).
      const status = (error as { status?: number }).status;
      if (failedRequest(error).method !== 'DELETE') {
        return undefined;
      }
      if (status === 404) {
        return 'not-found';
      }
      // "Bad request - Runner ... is still running a job"
      return status === 422 ? 'busy' : undefined;
    }),

    getJobStatus: (repository: string, jobId: number) => call(async (o): Promise<JobStatus | 'not-found'> => {
      const [owner, repo] = repository.split('/');
      const response = await o.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', { owner, repo, job_id: jobId });
      const status = (response.data as { status?: unknown }).status;
      // queued, waiting, pending and requested all still wait for a runner.
      if (status === 'in_progress' || status === 'completed') {
        return status;
      }
      return 'queued';
    }, (error) => {
      // GitHub answers 403 (and, for some repositories, 404) when the credentials may not read the job:
      // the App lacks "Actions: read". 'not-found' says only that the job could not be read; a rate
      // limit (also a 403) stays an error, and nothing here means the job has finished.
      if (failedRequest(error).method !== 'GET' || !isJobRequest(error)) {
        return undefined;
      }
      const mapped = mapGitHubError(error);
      return (mapped.status === 403 && mapped.kind === 'auth') || mapped.status === 404 ? 'not-found' : undefined;
    }),

    listAppHookDeliveries: (since: Date, maxPages: number) => call(async (o): Promise<HookDelivery[]> => {
      if (config.auth !== 'app') {
        throw new GitHubError('webhook deliveries can be listed with GitHub App credentials only', 'credentials');
      }
      // auth-app signs /app/hook/* requests with the App's JWT, not the installation token. The listing is
      // newest first and cursor-paginated (Link header): stop at the first page that reaches `since`.
      const deliveries: HookDelivery[] = [];
      let pages = 0;
      for await (const response of o.paginate.iterator('GET /app/hook/deliveries', { per_page: 100 })) {
        const page = (response.data as RawHookDelivery[]).map(toHookDelivery).filter((d): d is HookDelivery => d !== undefined);
        deliveries.push(...page);
        pages++;
        if (pages >= maxPages || page.length === 0 || page.some((d) => Date.parse(d.deliveredAt) < since.getTime())) {
          break;
        }
      }
      return deliveries.filter((d) => Date.parse(d.deliveredAt) >= since.getTime());
    }),

    redeliverAppHookDelivery: (deliveryId: number) => call(async (o): Promise<void> => {
      if (config.auth !== 'app') {
        throw new GitHubError('webhook deliveries can be redelivered with GitHub App credentials only', 'credentials');
      }
      await o.request('POST /app/hook/deliveries/{delivery_id}/attempts', { delivery_id: deliveryId });
    }),

    findRunnerGroupId: async (name: string) => {
      const cached = groupCache.get(name);
      if (cached && settings.now().getTime() - cached.at < RUNNER_GROUP_CACHE_MS) {
        return cached.id;
      }
      const groups = await call(async (o) => {
        if (scope.kind === 'repository') {
          return [] as RawRunnerGroup[];
        }
        return scope.kind === 'enterprise'
          ? o.paginate<RawRunnerGroup>('GET /enterprises/{enterprise}/actions/runner-groups', { ...scope.enterprise, per_page: 100 })
          : o.paginate<RawRunnerGroup>('GET /orgs/{org}/actions/runner-groups', { ...scope.org, per_page: 100 });
      });
      const id = groups.find((g) => g.name === name)?.id;
      groupCache.set(name, { id, at: settings.now().getTime() });
      return id;
    },

    rateLimit: () => coreLimit && { remaining: coreLimit.remaining, limit: coreLimit.limit },

    registrationUrl: () => webUrl,
  };
}

function isJobRequest(error: unknown): boolean {
  return /\/actions\/jobs\/\d+$/.test(failedRequest(error).path ?? '');
}

type RunnerScope =
  | { readonly kind: 'organization'; readonly org: { readonly org: string } }
  | { readonly kind: 'repository'; readonly repo: { readonly owner: string; readonly repo: string } }
  | { readonly kind: 'enterprise'; readonly enterprise: { readonly enterprise: string } };

/** A runner group id found by name is remembered this long (a renamed group is seen after it). */
const RUNNER_GROUP_CACHE_MS = 15 * 60 * 1000;

interface RawRunnerGroup {
  readonly id: number;
  readonly name: string;
}

function runnerScope(config: GitHubRuntimeConfig): RunnerScope {
  if (config.scope === 'repository') {
    if (!config.repo) {
      throw new GitHubError('repository scope needs github.repo in the configuration', 'validation');
    }
    return { kind: 'repository', repo: { owner: config.owner, repo: config.repo } };
  }
  if (config.scope === 'enterprise') {
    return { kind: 'enterprise', enterprise: { enterprise: config.owner } };
  }
  return { kind: 'organization', org: { org: config.owner } };
}

/**
 * The web URL `config.sh --url` takes, derived from the REST API URL:
 * `https://api.github.com` → `https://github.com/<owner>[/<repo>]`;
 * `https://api.<sub>.ghe.com` → `https://<sub>.ghe.com/...`;
 * GitHub Enterprise Server `https://<host>/api/v3` → `https://<host>/...` (any other URL maps the same way).
 */
export function registrationUrlFor(config: Pick<GitHubRuntimeConfig, 'apiUrl' | 'owner' | 'repo'> & { readonly scope?: GitHubRuntimeConfig['scope'] }): string {
  const api = new URL(config.apiUrl);
  let origin: string;
  let base = '';
  if (api.hostname === 'api.github.com') {
    origin = 'https://github.com';
  } else if (/^api\.[a-z0-9-]+\.ghe\.com$/i.test(api.hostname)) {
    origin = `${api.protocol}//${api.host.slice('api.'.length)}`;
  } else {
    origin = api.origin;
    base = api.pathname.replace(/\/+$/, '').replace(/\/api\/v3$/i, '');
  }
  const parts = config.scope === 'enterprise' ? ['enterprises', config.owner] : [config.owner, config.repo];
  const path = parts.filter((p): p is string => !!p).map(encodeURIComponent).join('/');
  return `${origin}${base}/${path}`;
}

interface RawHookDelivery {
  readonly id?: unknown;
  readonly guid?: unknown;
  readonly delivered_at?: unknown;
  readonly redelivery?: unknown;
  readonly status_code?: unknown;
  readonly event?: unknown;
  readonly action?: unknown;
}

/** A delivery of the listing, or undefined when it lacks what the recovery needs. */
function toHookDelivery(raw: RawHookDelivery): HookDelivery | undefined {
  if (typeof raw.id !== 'number' || typeof raw.guid !== 'string' || typeof raw.delivered_at !== 'string'
    || Number.isNaN(Date.parse(raw.delivered_at)) || typeof raw.event !== 'string') {
    return undefined;
  }
  return {
    id: raw.id,
    guid: raw.guid,
    deliveredAt: raw.delivered_at,
    redelivery: raw.redelivery === true,
    statusCode: typeof raw.status_code === 'number' ? raw.status_code : 0,
    event: raw.event,
    action: typeof raw.action === 'string' ? raw.action : undefined,
  };
}

interface RawRunner {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly busy: boolean;
  readonly labels?: ReadonlyArray<{ readonly name: string }>;
  readonly ephemeral?: boolean;
  readonly runner_group_id?: number;
}

function toRunner(raw: RawRunner): GitHubRunner {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status === 'online' ? 'online' : 'offline',
    busy: raw.busy === true,
    labels: (raw.labels ?? []).map((l) => l.name),
    ephemeral: raw.ephemeral,
    runnerGroupId: raw.runner_group_id,
  };
}
