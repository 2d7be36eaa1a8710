import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { requestLog } from '@octokit/plugin-request-log';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { GitHubRuntimeConfig } from '../../src/contract';
import type { LoggerPort } from '../ports';
import type { GitHubCredentials } from './github-credentials';
import { mapGitHubError } from './github-errors';

/**
 * Octokit plugin, placed inside plugin-retry, that makes one retry budget of every call chain:
 * - An App's installation token is minted inside the request it authenticates (auth-app sends it
 *   through the same Octokit): the token request itself is never retried, so the authenticated
 *   request's retries are the chain's only ones (nested, they gave 3 × 3 token requests in an outage).
 * - When the next back-off (plugin-retry waits 1², 2², 3² × `retryBaseMs`) would not leave time for
 *   another attempt in this invocation, the request's `retries` drops to 0 so that the error goes back at
 *   once instead of after a useless wait.
 * - A JIT request whose answer was lost (no answer, a timeout, a 5xx) may have created the runner: when
 *   its retry then meets 409, that is most likely our own runner, not somebody else's. The 409 goes back
 *   as a failure without an answer (`network`), so the handler treats it as the ambiguous failure it is.
 */
function retryWithinBudget(octokit: Pick<Octokit, 'hook'>, options: Record<string, unknown>): void {
  const budget = options.retryBudget as RetryBudget | undefined;
  if (!budget) {
    return;
  }
  octokit.hook.error('request', (error, requestOptions) => {
    const request = requestOptions.request as { retryCount?: number; retries?: number; jitAnswerLost?: boolean } | undefined;
    const route = String(requestOptions.url ?? '');
    if (request && isTokenRequest(route)) {
      request.retries = 0;
      throw error;
    }
    const failure = error as { status?: number; response?: unknown; request?: { url?: string } };
    const ownFailure = !isTokenRequest(failure.request?.url ?? '');
    if (request && ownFailure && JIT_ROUTE.test(route)) {
      if (failure.response === undefined || (failure.status ?? 0) >= 500) {
        request.jitAnswerLost = true;
      } else if (failure.status === 409 && request.jitAnswerLost) {
        request.retries = 0;
        throw Object.assign(new Error('an earlier attempt got no answer and GitHub now answers 409 (Already exists): '
          + 'the runner was most likely created by that attempt'), { name: 'HttpError', request: failure.request });
      }
    }
    const nextWait = ((request?.retryCount ?? 0) + 1) ** 2 * budget.retryBaseMs;
    if (request && nextWait + MIN_ATTEMPT_MS > budget.remainingTimeMs()) {
      request.retries = 0;
    }
    throw error;
  });
}

/** `POST /app/installations/{installation_id}/access_tokens`, as a route template or a URL. */
const TOKEN_ROUTE = /\/app\/installations\/[^/]+\/access_tokens$/;
const JIT_ROUTE = /\/actions\/runners\/generate-jitconfig$/;

function isTokenRequest(url: string): boolean {
  return TOKEN_ROUTE.test(url.split('?')[0]);
}

interface RetryBudget {
  readonly retryBaseMs: number;
  readonly remainingTimeMs: () => number;
}

/**
 * Octokit plugin, placed outside every other: each request gets a `request` options object of its own.
 * Octokit hands every request the same `request` object from its defaults, and plugin-retry,
 * plugin-throttling and {@link retryWithinBudget} write into it (`retryCount`, `retries`): shared, a
 * budget cut or a retry count of one request would carry over to every later request of the client.
 */
function ownRequestOptions(octokit: Pick<Octokit, 'hook'>): void {
  octokit.hook.before('request', (options) => {
    options.request = { ...options.request };
  });
}

/**
 * Octokit with plugin-retry (transient 5xx and network failures) and plugin-throttling (rate limits),
 * both kept within the invocation's time budget.
 *
 * It is @octokit/core with the plugins of @octokit/rest that we use (request-log, paginate-rest), in the
 * same order, without plugin-rest-endpoint-methods: its method for every REST endpoint was 83 KB of each
 * function's bundle. Every call names its route instead (`octokit.request('GET /orgs/{org}/actions/runners')`):
 * the same requests.
 */
export const FleetOctokit = Octokit.plugin(requestLog, paginateRest, retryWithinBudget, retry, throttling, ownRequestOptions);
export type GitHubClient = InstanceType<typeof FleetOctokit>;

/** Rate-limit headers of one GitHub answer. */
export interface RateLimitInfo {
  readonly remaining: number;
  readonly limit: number;
  /** `core`, `actions_runner_registration`, ... */
  readonly resource: string;
}

/** How the client behaves; every field has been defaulted by the caller. */
export interface GitHubClientSettings {
  readonly apiUrl: string;
  readonly logger?: LoggerPort;
  readonly now: () => Date;
  readonly onRateLimit?: (info: RateLimitInfo) => void;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly requestTimeoutMs: number;
  readonly throttleRetryLimit: number;
  readonly maxRetryAfterSeconds: number;
  /** Milliseconds left for GitHub in the current invocation (Infinity when unknown). */
  readonly remainingTimeMs: () => number;
  /** A throttling id of its own, so that the plugin's write spacing is not shared with other clients. */
  readonly throttleId: string;
}

const API_VERSION = '2022-11-28';
const JSON_MEDIA_TYPE = 'application/vnd.github+json';
/** Not worth starting an attempt with less time than this. */
const MIN_ATTEMPT_MS = 200;
/** Below this share of the limit, every answer logs a warning. */
const LOW_RATE_LIMIT_SHARE = 0.1;

/**
 * 4xx answers that no retry can fix. 403 and 429 are left to the throttling plugin, which honours
 * `retry-after` and `x-ratelimit-reset` (plugin-retry would back off blindly).
 */
const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 429, 451];

/**
 * The Octokit client for one connection. For an App without an installation id, the installation is
 * looked up first with the App's JWT.
 */
export async function buildGitHubClient(
  config: Pick<GitHubRuntimeConfig, 'scope' | 'owner' | 'repo'>,
  credentials: GitHubCredentials,
  settings: GitHubClientSettings,
): Promise<GitHubClient> {
  const common = clientOptions(settings);
  if (credentials.kind === 'token') {
    return new FleetOctokit({ ...common, auth: credentials.token });
  }
  const app = { appId: credentials.appId, privateKey: credentials.privateKey };
  let installationId = credentials.installationId;
  if (installationId === undefined) {
    const appClient = new FleetOctokit({ ...common, authStrategy: createAppAuth, auth: app });
    try {
      const response = config.scope === 'repository'
        ? await appClient.request('GET /repos/{owner}/{repo}/installation', { owner: config.owner, repo: config.repo ?? '' })
        : await appClient.request('GET /orgs/{org}/installation', { org: config.owner });
      installationId = response.data.id;
    } catch (error) {
      throw mapGitHubError(error);
    }
    settings.logger?.info('GitHub App installation found', { installationId, owner: config.owner });
  }
  // auth-app caches the installation token (for 59 of its 60 minutes) inside this client: keep the
  // client for the life of the execution environment and the token is minted once an hour.
  return new FleetOctokit({ ...common, authStrategy: createAppAuth, auth: { ...app, installationId } });
}

function clientOptions(settings: GitHubClientSettings) {
  const logger = settings.logger;
  // Octokit logs every request (info: dropped) and every failed attempt (error: a warning here, since
  // it may yet be retried; what finally fails is logged by the handler).
  const log = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => logger?.warn(`Octokit: ${message}`),
    error: (message: string) => logger?.warn(`Octokit: ${message}`),
  };
  const onLimit = (kind: string) => (retryAfter: number, options: { method?: string; url?: string }, _octokit: unknown, retryCount: number) => {
    // A token request is retried by the request it authenticates (one budget per chain), never by itself.
    const retrying = !isTokenRequest(options.url ?? '')
      && retryCount < settings.throttleRetryLimit
      && retryAfter <= settings.maxRetryAfterSeconds
      && retryAfter * 1000 + MIN_ATTEMPT_MS <= settings.remainingTimeMs();
    logger?.warn(`GitHub ${kind} reached`, { method: options.method, route: options.url, retryAfterSeconds: retryAfter, retryCount, retrying });
    return retrying;
  };
  return {
    baseUrl: settings.apiUrl,
    userAgent: 'cdk-github-runner-fleet',
    log,
    request: { fetch: instrumentedFetch(settings), log },
    retry: { retries: settings.retries, retryAfterBaseValue: settings.retryBaseMs, doNotRetry: DO_NOT_RETRY },
    retryBudget: { retryBaseMs: settings.retryBaseMs, remainingTimeMs: settings.remainingTimeMs } satisfies RetryBudget,
    throttle: {
      id: settings.throttleId,
      onRateLimit: onLimit('rate limit'),
      onSecondaryRateLimit: onLimit('secondary rate limit'),
    },
  };
}

/**
 * The one place every HTTP request passes, including the App's token requests that auth-app sends
 * around Octokit's hooks: the API version header, a timeout per attempt, and the rate-limit headers of
 * every answer (successful or not).
 */
function instrumentedFetch(settings: GitHubClientSettings): typeof fetch {
  return async (input, init) => {
    const left = settings.remainingTimeMs();
    if (left < MIN_ATTEMPT_MS) {
      // @octokit/request passes an AbortError on untouched, and plugin-retry does not retry it.
      throw Object.assign(new Error('no time left in this invocation for another GitHub request'), { name: 'AbortError' });
    }
    const timeout = AbortSignal.timeout(Math.min(settings.requestTimeoutMs, left));
    const headers = new Headers(init?.headers);
    headers.set('x-github-api-version', API_VERSION);
    if (!headers.has('accept') || headers.get('accept') === 'application/vnd.github.v3+json') {
      headers.set('accept', JSON_MEDIA_TYPE);
    }
    let response: Response;
    try {
      response = await fetch(input, {
        ...init,
        headers,
        signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
      });
    } catch (error) {
      throw asError(error);
    }
    reportRateLimit(response.headers, settings);
    return response;
  };
}

/**
 * fetch fails with DOMExceptions (TimeoutError, AbortError) and TypeErrors whose `cause` says what
 * happened. @octokit/request reads their message only from `instanceof Error`, which a DOMException from
 * another realm (a test VM) is not: hand it a plain Error with the same name, message and cause.
 */
function asError(error: unknown): Error {
  if (error instanceof Error) {
    return error;
  }
  const e = error as { name?: string; message?: string; cause?: unknown } | undefined;
  const copy = new Error(e?.message ?? String(error), e?.cause !== undefined ? { cause: asError(e.cause) } : undefined);
  copy.name = e?.name ?? 'Error';
  return copy;
}

function reportRateLimit(headers: Headers, settings: GitHubClientSettings): void {
  const remaining = headers.get('x-ratelimit-remaining');
  const limit = headers.get('x-ratelimit-limit');
  if (remaining === null || limit === null) {
    return;
  }
  const info: RateLimitInfo = {
    remaining: Number(remaining),
    limit: Number(limit),
    resource: headers.get('x-ratelimit-resource') ?? 'core',
  };
  settings.onRateLimit?.(info);
  if (info.limit > 0 && info.remaining < info.limit * LOW_RATE_LIMIT_SHARE) {
    const reset = Number(headers.get('x-ratelimit-reset'));
    settings.logger?.warn('GitHub rate limit running low', {
      ...info,
      resetsInSeconds: Number.isFinite(reset) && reset > 0 ? Math.max(0, Math.round(reset - settings.now().getTime() / 1000)) : undefined,
    });
  }
}
