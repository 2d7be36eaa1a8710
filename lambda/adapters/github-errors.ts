import { GitHubError } from '../ports';

/** Maps an Octokit failure to a GitHubError kind, once, so handlers never parse HTTP. */
export function mapGitHubError(error: unknown): GitHubError {
  if (error instanceof GitHubError) {
    return error;
  }
  const e = error as { status?: number; message?: string; name?: string; response?: { headers?: Record<string, string> } };
  const status = typeof e.status === 'number' ? e.status : undefined;
  const requestId = e.response?.headers?.['x-github-request-id'];
  const message = e.message ?? String(error);
  if (!e.response || status === undefined || (status === 500 && /abort|timeout|fetch failed|ECONN|socket/i.test(message))) {
    if (status !== undefined && e.response) {
      return new GitHubError(message, 'server', status, requestId);
    }
    return new GitHubError(`GitHub could not be reached: ${message}`, 'network', status, requestId);
  }
  if (status === 409) {
    return new GitHubError(message, 'conflict', status, requestId);
  }
  if (status === 404) {
    return new GitHubError(message, 'not-found', status, requestId);
  }
  if (status === 422 || status === 400) {
    return new GitHubError(message, 'validation', status, requestId);
  }
  if (status === 429 || (status === 403 && /rate limit/i.test(message))) {
    return new GitHubError(message, 'rate-limited', status, requestId);
  }
  if (status === 401 || status === 403) {
    return new GitHubError(message, 'auth', status, requestId);
  }
  if (status >= 500) {
    return new GitHubError(message, 'server', status, requestId);
  }
  return new GitHubError(message, 'validation', status, requestId);
}
