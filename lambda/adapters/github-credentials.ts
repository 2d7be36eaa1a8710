import type { GitHubAuthKind } from '../../src/contract';
import { GitHubError } from '../ports';

export type GitHubCredentialsValue =
  | { readonly kind: 'app'; readonly appId: string; readonly privateKey: string; readonly installationId?: number }
  | { readonly kind: 'token'; readonly token: string };

/**
 * Parses the credentials secret. Error messages say what was expected and never repeat the value.
 * App: `{ "appId", "privateKey", "installationId"? }`; token: the token, or `{ "token" }`.
 */
export function parseCredentials(raw: string, auth: GitHubAuthKind): GitHubCredentialsValue {
  const text = raw.trim();
  let json: Record<string, unknown> | undefined;
  if (text.startsWith('{')) {
    try {
      json = JSON.parse(text);
    } catch {
      throw new GitHubError('the GitHub credentials secret starts with "{" but is not valid JSON', 'credentials');
    }
  }
  if (auth === 'token') {
    const token = json ? json.token : text;
    if (typeof token !== 'string' || token.trim() === '' || /\s/.test(token.trim())) {
      throw new GitHubError('the GitHub token secret must hold the token, or JSON {"token": "..."}', 'credentials');
    }
    return { kind: 'token', token: token.trim() };
  }
  if (!json) {
    throw new GitHubError('the GitHub App secret must be JSON {"appId", "privateKey", "installationId"?}', 'credentials');
  }
  const appId = typeof json.appId === 'number' ? String(json.appId) : json.appId;
  if (typeof appId !== 'string' || !/^\d+$/.test(appId)) {
    throw new GitHubError('the GitHub App secret needs "appId": the App\'s numeric id', 'credentials');
  }
  const privateKey = typeof json.privateKey === 'string' ? json.privateKey.replace(/\\n/g, '\n') : undefined;
  if (!privateKey || !privateKey.includes('PRIVATE KEY-----')) {
    throw new GitHubError('the GitHub App secret needs "privateKey": the PEM private key of the App', 'credentials');
  }
  let installationId: number | undefined;
  if (json.installationId !== undefined && json.installationId !== null && json.installationId !== '') {
    installationId = Number(json.installationId);
    if (!Number.isInteger(installationId) || installationId <= 0) {
      throw new GitHubError('the GitHub App secret\'s "installationId" must be a positive whole number (or left out)', 'credentials');
    }
  }
  return { kind: 'app', appId, privateKey, installationId };
}
