import { GitHubError } from '../ports';

/** The parts of an Octokit `RequestError` (or a fetch failure) that the mapping reads. */
interface FailureShape {
  readonly name?: string;
  readonly message?: string;
  readonly status?: number;
  readonly request?: { readonly method?: string; readonly url?: string };
  readonly response?: { readonly status?: number; readonly headers?: Record<string, string | undefined> };
}

/** Requests made to authenticate as the App, not to act on runners. */
const APP_AUTH_PATH = /\/app\/installations\/\d+\/access_tokens$|\/installation$/;

/** The method and path of the request that failed, e.g. `DELETE /orgs/acme/actions/runners/7`. */
export function failedRequest(error: unknown): { readonly method?: string; readonly path?: string } {
  const request = (error as FailureShape | undefined)?.request;
  let path: string | undefined;
  if (request?.url) {
    try {
      path = new URL(request.url).pathname;
    } catch {
      path = request.url.split('?')[0];
    }
  }
  return { method: request?.method, path };
}

/**
 * Maps any failure of a GitHub call to a {@link GitHubError}, once, so that handlers never parse HTTP.
 *
 * The message names the request (method and path, never headers or bodies) and GitHub's answer.
 */
export function mapGitHubError(error: unknown): GitHubError {
  if (error instanceof GitHubError) {
    return error;
  }
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as FailureShape;
  const { method, path } = failedRequest(error);
  const what = method && path ? `${method} ${path}` : 'GitHub request';
  const message = e.message ?? 'unknown error';
  const response = e.response;
  const status = response?.status ?? undefined;
  const requestId = response?.headers?.['x-github-request-id'];

  if (!response || status === undefined) {
    // No answer at all: timeouts, refused or reset connections, DNS, an aborted request.
    return new GitHubError(`${what} failed before GitHub answered: ${message}`, 'network', undefined, requestId);
  }
  const answered = `${what} answered ${status}: ${message}`;
  const rateLimited = status === 429
    || (status === 403 && (/rate limit/i.test(message) || response.headers?.['x-ratelimit-remaining'] === '0'));
  if (rateLimited) {
    return new GitHubError(answered, 'rate-limited', status, requestId);
  }
  if (status >= 500) {
    return new GitHubError(answered, 'server', status, requestId);
  }
  if (path && APP_AUTH_PATH.test(path)) {
    // The App could not get an installation token: wrong App id or key, or not installed on the owner.
    return new GitHubError(`${answered} (GitHub App authentication: check the App id, its private key and that the App is installed)`,
      'auth', status, requestId);
  }
  switch (status) {
    case 401:
    case 403:
      return new GitHubError(answered, 'auth', status, requestId);
    case 404:
    case 410:
      return new GitHubError(answered, 'not-found', status, requestId);
    case 409:
      return new GitHubError(answered, 'conflict', status, requestId);
    default:
      return new GitHubError(answered, 'validation', status, requestId);
  }
}
