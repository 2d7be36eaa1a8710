import { createPrivateKey } from 'crypto';
import type { GitHubAuthKind } from '../../src/contract';
import { GitHubError } from '../ports';

/** The credentials secret, parsed. */
export type GitHubCredentials =
  | { readonly kind: 'app'; readonly appId: string; readonly privateKey: string; readonly installationId?: number }
  | { readonly kind: 'token'; readonly token: string };

const APP_FORMAT = 'JSON {"appId": "123", "privateKey": "-----BEGIN RSA PRIVATE KEY-----\\n...", "installationId": "456" (optional)}';
const TOKEN_FORMAT = 'the token itself (ghp_..., github_pat_...) or JSON {"token": "..."}';

/**
 * Parses the credentials secret for the configured kind of authentication.
 *
 * Error messages say what was expected and never repeat any part of the value (not even through
 * `JSON.parse`'s message, which quotes the text).
 */
export function parseGitHubCredentials(raw: string, auth: GitHubAuthKind): GitHubCredentials {
  const text = raw.trim();
  let json: Record<string, unknown> | undefined;
  if (text.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(text);
      json = typeof parsed === 'object' && parsed !== null ? parsed as Record<string, unknown> : undefined;
    } catch {
      throw credentialsError(auth, 'it starts with "{" but is not valid JSON');
    }
  }
  return auth === 'token' ? parseToken(text, json) : parseApp(json);
}

function parseToken(text: string, json: Record<string, unknown> | undefined): GitHubCredentials {
  const value = json ? json.token : text;
  if (json && value === undefined && ('appId' in json || 'privateKey' in json)) {
    throw credentialsError('token', 'it holds GitHub App credentials, but the connection is configured for a token');
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw credentialsError('token', 'the token is missing or empty');
  }
  if (/\s/.test(value.trim())) {
    throw credentialsError('token', 'the token contains white space');
  }
  return { kind: 'token', token: value.trim() };
}

function parseApp(json: Record<string, unknown> | undefined): GitHubCredentials {
  if (!json) {
    throw credentialsError('app', 'it is not a JSON object');
  }
  const appId = typeof json.appId === 'number' ? String(json.appId) : json.appId;
  if (typeof appId !== 'string' || !/^\d+$/.test(appId.trim())) {
    throw credentialsError('app', '"appId" is missing or not the App\'s numeric id');
  }
  // A key pasted into JSON by hand often keeps its line breaks as the two characters "\n".
  const privateKey = typeof json.privateKey === 'string' ? json.privateKey.replace(/\\n/g, '\n').trim() : undefined;
  if (!privateKey || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    throw credentialsError('app', '"privateKey" is missing or not a PEM private key');
  }
  try {
    createPrivateKey(privateKey);
  } catch {
    throw credentialsError('app', '"privateKey" looks like PEM but cannot be read as a private key');
  }
  let installationId: number | undefined;
  if (json.installationId !== undefined && json.installationId !== null && json.installationId !== '') {
    installationId = Number(json.installationId);
    if (!Number.isSafeInteger(installationId) || installationId <= 0) {
      throw credentialsError('app', '"installationId" must be a positive whole number, or left out to be looked up');
    }
  }
  return { kind: 'app', appId: appId.trim(), privateKey, installationId };
}

function credentialsError(auth: GitHubAuthKind, problem: string): GitHubError {
  const expected = auth === 'app' ? APP_FORMAT : TOKEN_FORMAT;
  return new GitHubError(`The GitHub credentials secret is malformed: ${problem}. Expected ${expected}.`, 'credentials');
}
