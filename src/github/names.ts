/**
 * Pure validation and derivation for GitHub names and URLs. No constructs: unit-tested directly.
 */

const ORG_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/;
const REPO_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

/** Throws unless `value` is a GitHub organization or user login. */
export function validateOwner(prop: string, value: string): void {
  if (!ORG_PATTERN.test(value) || value.includes('--')) {
    throw new Error(
      `${prop} (${JSON.stringify(value)}) is not a GitHub organization or user name: use 1-39 letters, digits `
      + 'or single hyphens, not starting or ending with a hyphen (e.g. "acme")',
    );
  }
}

/** Throws unless `value` is a GitHub enterprise slug (letters, digits and hyphens). */
export function validateEnterpriseSlug(prop: string, value: string): void {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,98}[A-Za-z0-9])?$/.test(value)) {
    throw new Error(`${prop} (${JSON.stringify(value)}) is not an enterprise slug: use the letters, digits and hyphens of `
      + 'the enterprise\'s URL, https://github.com/enterprises/<slug> (e.g. "acme-corp")');
  }
}

/** Throws unless `value` is a GitHub repository name. */
export function validateRepositoryName(prop: string, value: string): void {
  if (!REPO_PATTERN.test(value) || value === '.' || value === '..') {
    throw new Error(
      `${prop} (${JSON.stringify(value)}) is not a GitHub repository name: use 1-100 letters, digits, '.', '-' `
      + 'or \'_\' (e.g. "infrastructure")',
    );
  }
}

/** The kind of GitHub host an API URL points at. */
export interface GitHubHost {
  /** REST API base URL without a trailing slash. */
  readonly apiUrl: string;
  /** Web URL of the host (where organizations and repositories live), without a trailing slash. */
  readonly webUrl: string;
}

/**
 * Validates a REST API base URL and derives the web URL the runner registers against.
 *
 * - `https://api.github.com` → `https://github.com`
 * - `https://api.<sub>.ghe.com` (GitHub Enterprise Cloud with data residency) → `https://<sub>.ghe.com`
 * - `https://<host>/api/v3` (GitHub Enterprise Server) → `https://<host>`
 */
export function parseApiUrl(prop: string, value: string): GitHubHost {
  const fix = 'use https://api.github.com, https://api.<subdomain>.ghe.com or https://<host>/api/v3';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${prop} (${JSON.stringify(value)}) is not a URL: ${fix}`);
  }
  if (url.protocol !== 'https:') {
    throw new Error(`${prop} (${JSON.stringify(value)}) must use https: ${fix}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`${prop} (${JSON.stringify(value)}) must not carry credentials, a query or a fragment: ${fix}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  const host = url.host.toLowerCase();
  if (host === 'api.github.com') {
    if (path !== '') {
      throw new Error(`${prop} (${JSON.stringify(value)}) has a path; api.github.com takes none: ${fix}`);
    }
    return { apiUrl: 'https://api.github.com', webUrl: 'https://github.com' };
  }
  const ghe = /^api\.([a-z0-9-]+)\.ghe\.com$/.exec(host);
  if (ghe) {
    if (path !== '') {
      throw new Error(`${prop} (${JSON.stringify(value)}) has a path; GHE.com API hosts take none: ${fix}`);
    }
    return { apiUrl: `https://${host}`, webUrl: `https://${ghe[1]}.ghe.com` };
  }
  if (host === 'github.com' || host.endsWith('.ghe.com')) {
    throw new Error(`${prop} (${JSON.stringify(value)}) is a web address, not the API: ${fix}`);
  }
  if (path !== '/api/v3') {
    throw new Error(
      `${prop} (${JSON.stringify(value)}) looks like GitHub Enterprise Server but its path is not /api/v3: `
      + `use https://${host}/api/v3`,
    );
  }
  return { apiUrl: `https://${host}/api/v3`, webUrl: `https://${host}` };
}

/**
 * What is wrong with a runner's labels, every mistake at once ([] when GitHub accepts them all for a
 * self-hosted runner).
 *
 * GitHub caps labels at 100 per runner; we also refuse commas (config.sh splits on them), whitespace,
 * and names GitHub reserves for its hosted runners' default labels, which would make jobs match
 * wrongly.
 */
export function labelProblems(prop: string, labels: string[]): string[] {
  if (labels.length === 0) {
    return [`${prop} is empty: give at least one label that your workflows' runs-on will name (e.g. ["linux"])`];
  }
  const problems: string[] = [];
  if (labels.length > 90) {
    problems.push(`${prop} has ${labels.length} labels: GitHub accepts at most 100 per runner, and the fleet adds its own; use at most 90`);
  }
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const label of labels) {
    const key = label.toLowerCase();
    if (!/^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$/.test(label)) {
      problems.push(
        `${prop} contains ${JSON.stringify(label)}: a label is 1-100 letters, digits, '.', '_', ':', '+' or '-', `
        + 'starting with a letter or digit, without spaces or commas',
      );
    } else if (key === 'self-hosted') {
      problems.push(`${prop} contains "self-hosted": GitHub adds it to every self-hosted runner; remove it`);
    } else if (seen.has(key) && !repeated.has(key)) {
      repeated.add(key);
      problems.push(`${prop} contains ${JSON.stringify(label)} more than once (labels are case-insensitive): remove the duplicates`);
    }
    seen.add(key);
  }
  return problems;
}
